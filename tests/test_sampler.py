"""Sampling: raw reads become a value with a state that never makes a dead sensor look like a calm room.

Most tests feed the sampler a script of raw reads (the probe's side is tested in test_dht22.py) and run it
the way the gateway does: poll when due. The last ones run it on the modelled DHT22 in the simulated world.
"""

from __future__ import annotations

import random

from hardware.clock import ManualClock
from hardware.config import Sampling, Sensor
from sensors import open_climate_sensor
from sensors.climate import ClimateSample, ProbeError
from sensors.sampler import Sampler

INTERVAL = 10.0


class Script:
    """A probe that returns the scripted reads in order: a (°C, % RH) pair, or a string to fail with."""

    def __init__(self, *reads: tuple[float, float] | str) -> None:
        self.reads = list(reads)

    def measure(self) -> tuple[float, float]:
        read = self.reads.pop(0) if self.reads else "no more reads scripted"
        if isinstance(read, str):
            raise ProbeError(read)
        return read

    def close(self) -> None:
        pass


def sampler(*reads: tuple[float, float] | str, **overrides: object) -> tuple[Sampler, ManualClock]:
    sampling = Sampling(**{k: v for k, v in overrides.items() if k in Sampling.model_fields})
    sensor_fields = {k: v for k, v in overrides.items() if k not in Sampling.model_fields}
    sensor = Sensor(id="dht-1", type="dht22", pin=4, interval_s=INTERVAL, sampling=sampling, **sensor_fields)
    clock = ManualClock()
    return Sampler(sensor, Script(*reads), clock), clock


def cycles(s: Sampler, clock: ManualClock, n: int) -> list[ClimateSample]:
    """Run the sampler as the gateway does until it has given `n` samples."""
    samples: list[ClimateSample] = []
    while len(samples) < n:
        clock.advance(max(0.0, s.next_due - clock.monotonic()))
        sample = s.poll()
        if sample is not None:
            samples.append(sample)
    return samples


def test_good_reads_give_the_median_of_the_last_three():
    s, clock = sampler((20.0, 50.0), (20.4, 51.0), (20.2, 56.0), (20.3, 52.0))
    got = cycles(s, clock, 4)
    assert [x.state for x in got] == ["ok"] * 4
    assert [x.humidity_rh for x in got] == [50.0, 50.5, 51.0, 52.0]  # median of the reads so far, up to three
    assert got[-1].temperature_c == 20.3


def test_a_failed_read_is_tried_again_with_a_growing_pause_before_the_cycle_counts_as_failed():
    s, clock = sampler((20.0, 50.0), "Checksum did not validate. Try again.", "A full buffer...", (20.1, 50.2))
    first = cycles(s, clock, 1)[0]
    start = clock.monotonic()
    assert first.state == "ok"
    clock.advance(INTERVAL)
    assert s.poll() is None and s.next_due - clock.monotonic() == 2.5
    clock.advance(2.5)
    assert s.poll() is None and s.next_due - clock.monotonic() == 5.0
    clock.advance(5.0)
    sample = s.poll()
    assert sample.state == "ok" and sample.humidity_rh == 50.1
    assert clock.monotonic() - start == INTERVAL + 7.5


def test_without_good_reads_the_value_ages_from_degraded_to_stale_to_failed():
    s, clock = sampler((20.0, 50.0), stale_after_s=60, failed_after_s=300, retries=0)
    got = cycles(s, clock, 40)  # every read after the first fails
    by_state = {state: [x for x in got if x.state == state] for state in ("ok", "degraded", "stale", "failed")}
    assert len(by_state["ok"]) == 1
    assert all(x.humidity_rh == 50.0 and 0 < x.age_s <= 60 for x in by_state["degraded"])
    assert all(x.humidity_rh == 50.0 and 60 < x.age_s <= 300 for x in by_state["stale"])
    assert all(x.humidity_rh is None and x.age_s > 300 for x in by_state["failed"])
    assert [x.state for x in got] == sorted((x.state for x in got), key=["ok", "degraded", "stale", "failed"].index)
    assert got[-1].error == "no more reads scripted"


def test_a_sensor_that_never_read_is_failed_at_once():
    s, clock = sampler("DHT sensor not found, check wiring", retries=0)
    (sample,) = cycles(s, clock, 1)
    assert (sample.state, sample.humidity_rh, sample.error) == ("failed", None, "DHT sensor not found, check wiring")


def test_implausible_reads_are_refused():
    s, clock = sampler((20.0, 0.0), (85.0, 50.0), (20.0, 50.0), retries=2)
    (sample,) = cycles(s, clock, 1)
    assert (sample.state, sample.humidity_rh) == ("ok", 50.0)
    assert s.counts["implausible"] == 2


def test_a_spike_is_refused_and_the_value_holds():
    s, clock = sampler((20.0, 50.0), (20.1, 50.2), (20.0, 91.0), (20.1, 50.1), retries=0)
    got = cycles(s, clock, 4)
    assert [x.state for x in got] == ["ok", "ok", "degraded", "ok"]
    assert got[2].humidity_rh == 50.1 and "spike refused" in got[2].error
    assert all(x.humidity_rh < 51 for x in got)


def test_a_jump_that_the_next_reads_agree_on_is_real():
    reads = [(20.0, 50.0), (20.0, 50.0), (20.5, 70.0), (20.5, 70.4), (20.6, 70.2), (20.6, 70.3)]
    s, clock = sampler(*reads, retries=0)
    got = cycles(s, clock, 6)
    assert [x.state for x in got] == ["ok", "ok", "degraded", "degraded", "ok", "ok"]
    assert got[4].humidity_rh == 70.2  # median of the three reads that agreed
    assert got[5].humidity_rh == 70.3


def test_a_slow_real_change_is_never_a_spike():
    reads = [(20.0, 50.0 + 0.4 * i) for i in range(40)]  # 2.4 % RH a minute, read every 10 s
    s, clock = sampler(*reads)
    assert all(x.state == "ok" for x in cycles(s, clock, 40))


def test_the_same_raw_values_for_half_an_hour_mean_a_hung_sensor():
    s, clock = sampler(*[(20.0, 50.0)] * 200, stuck_after_s=1800)
    got = cycles(s, clock, 200)
    first_failed = next(i for i, x in enumerate(got) if x.state == "failed")
    assert first_failed * INTERVAL >= 1800
    assert first_failed * INTERVAL <= 1800 + INTERVAL
    assert "stopped measuring" in got[first_failed].error
    assert got[first_failed].humidity_rh is None


def test_calibration_offsets_are_added_to_every_read():
    s, clock = sampler((20.0, 50.0), temperature_offset_c=-0.4, humidity_offset_rh=1.5)
    (sample,) = cycles(s, clock, 1)
    assert (sample.temperature_c, sample.humidity_rh) == (19.6, 51.5)


# -- on the modelled DHT22 ---------------------------------------------------------------------


class StillRoom:
    def __init__(self) -> None:
        self.fault: str | None = None

    def climate(self, room_id: str) -> tuple[float, float]:
        return 21.0, 55.0

    def sensor_fault(self, room_id: str, sensor_id: str) -> str | None:
        return self.fault


def simulated(room: StillRoom, **sampling: object) -> tuple[Sampler, ManualClock]:
    sensor = Sensor(id="dht-1", type="dht22", pin=4, interval_s=5.0, sampling=Sampling(**sampling))
    clock = ManualClock()
    return open_climate_sensor(sensor, "sim", room, "r", random.Random(5), clock), clock


def test_a_healthy_simulated_dht22_is_ok_in_nearly_every_cycle():
    s, clock = simulated(StillRoom())
    got = cycles(s, clock, 300)
    assert sum(x.state == "ok" for x in got) >= 297  # the retries absorb the routine failures
    assert all(abs(x.humidity_rh - 55.0) < 1.5 for x in got)


def test_an_unplugged_sensor_stops_driving_control_within_a_minute_and_fails_within_five():
    room = StillRoom()
    s, clock = simulated(room, stale_after_s=60, failed_after_s=300)
    cycles(s, clock, 5)
    room.fault = "no_response"
    unplugged = clock.monotonic()
    seen: list[tuple[float, ClimateSample]] = []
    for _ in range(60):
        (sample,) = cycles(s, clock, 1)
        seen.append((clock.monotonic() - unplugged, sample))
    first_unusable = next((t, x) for t, x in seen if not x.usable)
    first_failed = next(t for t, x in seen if x.state == "failed")
    assert first_unusable[1].state == "stale" and 60 < first_unusable[0] <= 60 + 5 + 7.5
    assert 300 < first_failed <= 300 + 5 + 7.5
    assert all(x.state == "failed" for t, x in seen if t >= first_failed)
    assert seen[-1][1].error == "DHT sensor not found, check wiring"


def test_spikes_from_a_simulated_sensor_never_reach_the_value():
    room = StillRoom()
    room.fault = "spikes"
    s, clock = simulated(room)
    got = cycles(s, clock, 200)
    assert all(abs(x.humidity_rh - 55.0) < 2 and abs(x.temperature_c - 21.0) < 1 for x in got)
    assert s.counts["spike"] >= 20
