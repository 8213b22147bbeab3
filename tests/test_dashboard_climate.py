"""A room's climate as the room page and /api/rooms/<room>/climate show it: run time, metrics, sensors, alarms."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashboard import climate
from dashboard.app import create_app
from dashboard.store import Store
from gateway import protocol
from sensors.preservation import preservation_index
from tests.support import add_user, login, send_reading

EAST = protocol.Topics("demo", "gw-east")


@pytest.fixture
def app(site):
    app = create_app(site)
    add_user(app.config["DATABASE"], "kim", "keeper")
    return app


def relay(store: Store, seq: int, on: bool, ago_s: float) -> None:
    ts = protocol.utc_now() - timedelta(seconds=ago_s)
    event = protocol.Event(
        id=f"e{seq}", seq=seq, ts=ts, kind="relay", room="east-stack", device="dehum-1", data={"on": on}
    )
    store.ingest(EAST.event("relay"), event.to_json(), received=ts)


def alarm(store: Store, seq: int, kind: str, ago_s: float, cleared: bool = False) -> None:
    ts = protocol.utc_now() - timedelta(seconds=ago_s)
    event = protocol.Event(
        id=f"a{seq}",
        seq=seq,
        ts=ts,
        kind=kind,
        severity="info" if cleared else "alarm",
        room="east-stack",
        message=f"{kind} {'cleared' if cleared else 'raised'}",
        data={"cleared": True} if cleared else {},
    )
    store.ingest(EAST.event(kind), event.to_json(), received=ts)


def test_run_time_counts_what_ran_within_the_period_and_a_unit_still_running(app):
    with Store(app.config["DATABASE"]) as store:
        relay(store, 1, True, 30 * 3600)  # ran from 30 h ago ...
        relay(store, 2, False, 20 * 3600)  # ... to 20 h ago: 4 h of it within the last 24 h
        relay(store, 3, True, 2 * 3600)  # and is running since 2 h ago
        now = protocol.utc_now()
        (unit,) = climate.run_time(store.db, "demo", "east-stack", since=now - timedelta(hours=24), until=now)
    assert unit["unit"] == "dehum-1"
    assert unit["run_s"] == pytest.approx(6 * 3600, abs=5)
    assert unit["starts"] == 1 and unit["on_since"] is not None
    assert unit["share"] == pytest.approx(0.25, abs=0.001)


def test_metrics_come_from_the_fresh_readings_of_the_period(app):
    with Store(app.config["DATABASE"]) as store:
        for i in range(48):  # a day at 20 °C and 45 % RH, a reading every half hour
            send_reading(store, 100 + i, 45.0, age_s=i * 1800 + 60, temperature=20.0)
        now = protocol.utc_now()
        day = climate.preservation(store.db, "demo", "east-stack", since=now - timedelta(hours=24), until=now)
        assert climate.preservation(store.db, "demo", "west-stack", since=now - timedelta(hours=24), until=now) is None
    assert day["twpi_years"] == pytest.approx(preservation_index(20.0, 45.0), abs=0.1)
    assert day["emc_pct"]["mean"] == pytest.approx(8.49, abs=0.01)
    assert day["mold_risk"]["index_max"] == 0.0


def test_the_room_page_shows_sensors_run_time_alarms_and_metrics(app):
    with Store(app.config["DATABASE"]) as store:
        send_reading(store, 1, 55.0, age_s=600, temperature=20.0)
        relay(store, 2, True, 3600)
        alarm(store, 3, "humidity_high", 7200)
        alarm(store, 4, "humidity_high", 3000, cleared=True)
        alarm(store, 5, "climate_fail_safe", 100)
    client = app.test_client()
    login(client, "kim")
    page = client.get("/rooms/east-stack").get_data(as_text=True)
    assert 'data-sensor="dht-1"' in page and "正常" in page  # its state, in the page's language
    assert "最近 24 小时运行 1.0 小时（启动 1 次）" in page
    assert "east-stack 无可用湿度值：除湿机处于安全状态" in page  # worded from its kind, in the page's language
    assert "humidity_high raised" in page  # no value in its data to word it by: the gateway's own words
    assert "时间加权保存指数" in page and "rating-" in page
    assert "手动控制" not in page  # keepers see the dehumidifiers but do not override them


def test_the_climate_api_answers_for_a_period_and_refuses_an_unknown_one(app):
    client = app.test_client()
    login(client, "kim")
    answer = client.get("/api/rooms/east-stack/climate?period=7d").json
    assert answer["period"] == "7d" and answer["metrics"] is None and answer["dehumidifiers"] == []
    assert client.get("/api/rooms/east-stack/climate?period=1y").status_code == 400
