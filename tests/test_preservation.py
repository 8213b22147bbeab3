"""Preservation metrics against values worked by hand from the published formulas, and the CLI that computes them."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from click.testing import CliRunner

from sensors.cli import climate
from sensors.preservation import (
    MouldIndex,
    Point,
    dew_point_c,
    emc_pct,
    metrics,
    mould_critical_rh,
    preservation_index,
)


def test_dew_point_by_magnus():
    # γ = ln(0.5) + 17.625·20/(243.04+20) = -0.693147 + 1.340100 = 0.646953; Td = 243.04·γ/(17.625-γ) = 9.261
    assert dew_point_c(20.0, 50.0) == pytest.approx(9.261, abs=0.001)
    assert dew_point_c(15.0, 100.0) == pytest.approx(15.0, abs=1e-9)  # saturated air is at its dew point


def test_preservation_index_by_ipis_arrhenius_form():
    # k = 45 · 5.9e12 · exp(-90300 / (8.314 · 293.15)) = 45 · 5.9e12 · exp(-37.0499) = 0.021551 → PI = 46.40
    assert preservation_index(20.0, 45.0) == pytest.approx(46.40, abs=0.01)
    # Warmer and damper is faster decay: 28 °C and 80 % RH, as in an unconditioned summer store:
    # k = 80 · 5.9e12 · exp(-90300 / (8.314 · 301.15)) = 80 · 5.9e12 · exp(-36.0657) = 0.10252 → PI = 9.75
    assert preservation_index(28.0, 80.0) == pytest.approx(9.75, abs=0.01)


def test_emc_by_hailwood_horrobin_with_simpsons_constants():
    # T = 20: W = 380.2, K = 0.818628, K1 = 5.961200, K2 = 2.606800; h = 0.5:
    # Kh/(1-Kh) = 0.692930; (K1Kh + 2K1K2K²h²)/(1 + K1Kh + K1K2K²h²) = 1.265310; ×1800/W → 9.271 %
    assert emc_pct(20.0, 50.0) == pytest.approx(9.271, abs=0.001)
    assert emc_pct(20.0, 30.0) < 7.0 < emc_pct(20.0, 45.0)  # drier air, drier paper


def test_the_mould_model_needs_damp_above_its_critical_humidity():
    assert mould_critical_rh(25.0) == 80.0
    # At 10 °C: -0.00267·1000 + 0.160·100 - 3.13·10 + 100 = 82.03 % RH
    assert mould_critical_rh(10.0) == pytest.approx(82.03, abs=0.01)
    dry = MouldIndex()
    for _ in range(24 * 365):
        dry.step(22.0, 60.0, 1.0)
    assert dry.index == 0.0 and dry.favourable_hours == 0.0


def test_mould_grows_at_the_models_rate_in_a_damp_summer_and_declines_when_dried():
    # At 25 °C and 90 % RH: tm = exp(-0.68 ln 25 - 13.9 ln 90 + 66.02) = exp(1.2845) = 3.613 weeks to M = 1,
    # so M grows by 1/(7·3.613) = 0.03954 a day (k1 = 1, k2 ≈ 1 while M is far below Mmax = 6).
    damp = MouldIndex()
    for _ in range(24 * 10):
        damp.step(25.0, 90.0, 1.0)
    assert damp.index == pytest.approx(10 * 0.03954, rel=0.01)
    for _ in range(24 * 40):
        damp.step(25.0, 90.0, 1.0)
    assert damp.index > 1.0  # microscopic growth within two months
    reached = damp.index
    for _ in range(6):
        damp.step(20.0, 50.0, 1.0)  # dried: 0.00133 an hour for the first 6 h
    assert damp.index == pytest.approx(reached - 6 * 0.00133, abs=1e-9)
    for _ in range(18):
        damp.step(20.0, 50.0, 1.0)  # then nothing up to a day
    assert damp.index == pytest.approx(reached - 6 * 0.00133, abs=1e-9)


def hourly(*climates: tuple[float, float]) -> list[Point]:
    return [Point(1_780_000_000 + 3600.0 * i, t, rh) for i, (t, rh) in enumerate(climates)]


def test_twpi_is_the_time_weighted_harmonic_mean_of_pi():
    points = hourly((20.0, 45.0), (28.0, 80.0))
    pi_a, pi_b = preservation_index(20.0, 45.0), preservation_index(28.0, 80.0)
    assert metrics(points)["twpi_years"] == pytest.approx(2 / (1 / pi_a + 1 / pi_b), abs=0.05)
    # Not the arithmetic mean: a damp spell costs more than an equally long dry one gives back.
    assert metrics(points)["twpi_years"] < (pi_a + pi_b) / 2


def test_a_gap_in_the_record_does_not_let_one_reading_stand_for_the_whole_gap():
    points = [*hourly((20.0, 45.0), (20.0, 45.0), (20.0, 45.0)), Point(1_780_000_000 + 3600 * 100, 28.0, 80.0)]
    result = metrics(points)
    assert result["hours"] == pytest.approx(2 + 3 + 1)  # the 97 h gap counts as 3 usual intervals


def test_metrics_name_their_ratings():
    good = metrics(hourly(*[(16.0, 45.0)] * 24))
    assert good["twpi_rating"] == "good" and good["emc_share_outside_safe"] == 0.0
    bad = metrics(hourly(*[(28.0, 85.0)] * 24))
    assert bad["twpi_rating"] == "risk" and bad["emc_share_outside_safe"] == 1.0
    assert set(bad["mold_risk"]) >= {"model", "index_max", "index_end", "hours_favourable", "rating"}


# -- the command line ---------------------------------------------------------------------------


def run(tmp_path, text: str | bytes, *args: str):
    path = tmp_path / "readings.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return CliRunner().invoke(climate, ["metrics", str(path), *args])


def test_the_cli_prints_the_metrics_of_a_csv_as_json(tmp_path):
    text = "ts,temperature_c,rh_pct\n" + "".join(f"2026-07-01T{h:02d}:00:00+08:00,20.0,45.0\n" for h in range(6))
    result = run(tmp_path, text, "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["twpi_years"] == pytest.approx(46.4, abs=0.05)
    assert answer["emc_pct"] == {"min": 8.49, "mean": 8.49, "max": 8.49}
    assert answer["dew_point_c"]["mean"] == pytest.approx(7.71, abs=0.01)
    assert answer["start"] == "2026-06-30T16:00:00Z" and answer["refused_rows"] == []


def test_rows_that_cannot_be_read_are_named_and_the_rest_are_used(tmp_path):
    text = (
        "\ufeffts,temperature_c,rh_pct,note\n"  # a BOM, as spreadsheets write, and an extra column
        "1780000000,20,45,fine\n"
        "yesterday,20,45,\n"
        "1780003600,20,145,\n"
        "1780007200,nan,45,\n"
        "1780010800,20\n"
        "1780014400,20,45,fine\n"
    )
    result = run(tmp_path, text, "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output.splitlines()[0])
    assert answer["readings"] == 2
    assert [r["line"] for r in answer["refused_rows"]] == [3, 4, 5, 6]
    reasons = " | ".join(r["reason"] for r in answer["refused_rows"])
    assert "'yesterday' is neither ISO 8601 nor epoch seconds" in reasons
    assert "rh_pct 145.0 is outside 0.0..100.0" in reasons
    assert "temperature_c nan is outside" in reasons
    assert "too few fields" in reasons


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("ts,temperature_c,rh_pct\nx,y,z\n", "no usable rows (1 refused)"),
        ("time,temp,rh\n1,2,3\n", "missing: ts, temperature_c, rh_pct"),
        (b"ts,temperature_c,rh_pct\n\xff\xfe\x00\n", "not UTF-8 text"),
    ],
)
def test_a_file_with_nothing_usable_says_why_and_exits_2(tmp_path, content, message):
    path = tmp_path / "readings.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    answer = subprocess.run(
        [sys.executable, "-m", "storeroom", "climate", "metrics", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 2
    assert message in answer.stderr
    assert "Traceback" not in answer.stderr


def test_the_table_form_reads_as_a_summary(tmp_path):
    result = run(tmp_path, "ts,temperature_c,rh_pct\n0,20,45\n3600,20,45\n")
    assert result.exit_code == 0
    assert "TWPI           46.4 years (ok)" in result.output
    assert math.isfinite(float(result.output.split("mean")[1].split()[0]))
