"""What a storeroom's climate does to paper: the published formulas, and the metrics built from them.

Pure functions of temperature (°C) and relative humidity (%), used by the gateway's alarms (dew point,
mould) and by the dashboard and `storeroom climate metrics` (all of them). Each cites its source; the
tests check them against values worked by hand from the same formulas.

- Dew point: the Magnus formula with Alduchov & Eskridge's constants (a = 17.625, b = 243.04 °C):
  Alduchov, O. A. and Eskridge, R. E. (1996), "Improved Magnus form approximation of saturation vapor
  pressure", J. Appl. Meteor. 35, 601–609.
- Preservation Index (PI): the Image Permanence Institute's Arrhenius form for the hydrolysis of cellulose
  acetate, k = RH × 5.9e12 × exp(−90 300 / (8.314 × T[K])) per year and PI = 1/k years (Reilly, J. M.
  (1995), "New Tools for Preservation", Commission on Preservation and Access; as restated by Padfield,
  T. (2004), "The Preservation Index and the Time Weighted Preservation Index"). 20 °C and 45 % RH give
  about 46 years, IPI's reference of "about 50".
- Time-Weighted PI (TWPI): the time-weighted harmonic mean of PI, i.e. 1 / the time-averaged rate, since
  decay adds up in rate, not in lifetime (Reilly 1995; Padfield 2004).
- Equilibrium moisture content (EMC): the Hailwood–Horrobin sorption model with Simpson's constants for
  wood (Simpson, W. T. (1973), "Predicting equilibrium moisture content of wood by mathematical models",
  Wood and Fiber 5(1), 41–49; the °C form of the USDA Wood Handbook, FPL-GTR-190, eq. 4-5). IPI uses the
  same curve for paper and rates 5–12.5 % safe from mechanical damage (brittle below, soft above).
- Mould: the VTT mould growth model for pine sapwood, the most sensitive class, so a conservative stand-in
  for paper: Hukka, A. and Viitanen, H. (1999), "A mathematical model of mould growth on wooden material",
  Wood Science and Technology 33, 475–485. The index runs from 0 (none) to 6 (heavy growth); 1 is growth
  under a microscope, 3 visible to the eye.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from statistics import fmean, median

MAGNUS_A, MAGNUS_B = 17.625, 243.04
PI_ACTIVATION_J_MOL = 90_300.0
PI_PREFACTOR = 5.9e12
GAS_CONSTANT = 8.314
PI_GOOD, PI_OK = 75.0, 45.0
"""IPI's ratings: PI at or above 75 years good, 45–75 acceptable, below 45 a risk."""
EMC_SAFE = (5.0, 12.5)
"""IPI's range of paper moisture content without mechanical damage (%)."""
MOULD_VISIBLE = 3.0


def dew_point_c(temperature_c: float, rh_pct: float) -> float:
    """Temperature at which the air's water would condense (Magnus)."""
    gamma = math.log(max(rh_pct, 0.01) / 100.0) + MAGNUS_A * temperature_c / (MAGNUS_B + temperature_c)
    return MAGNUS_B * gamma / (MAGNUS_A - gamma)


def decay_rate(temperature_c: float, rh_pct: float) -> float:
    """IPI's rate of chemical decay (per year): the reciprocal of the Preservation Index."""
    return rh_pct * PI_PREFACTOR * math.exp(-PI_ACTIVATION_J_MOL / (GAS_CONSTANT * (temperature_c + 273.15)))


def preservation_index(temperature_c: float, rh_pct: float) -> float:
    """Years to noticeable chemical decay if the climate stayed like this (IPI)."""
    return 1.0 / decay_rate(temperature_c, max(rh_pct, 0.01))


def emc_pct(temperature_c: float, rh_pct: float) -> float:
    """Equilibrium moisture content (% of dry mass) of cellulose at this climate (Hailwood–Horrobin, Simpson)."""
    t, h = temperature_c, min(max(rh_pct, 0.0), 99.0) / 100.0
    w = 349.0 + 1.29 * t + 0.0135 * t * t
    k = 0.805 + 0.000736 * t - 0.00000273 * t * t
    k1 = 6.27 - 0.00938 * t - 0.000303 * t * t
    k2 = 1.91 + 0.0407 * t - 0.000293 * t * t
    kh = k * h
    return 1800.0 / w * (kh / (1 - kh) + (k1 * kh + 2 * k1 * k2 * kh * kh) / (1 + k1 * kh + k1 * k2 * kh * kh))


def mould_critical_rh(temperature_c: float) -> float:
    """The lowest RH at which mould grows at this temperature (VTT): 80 % above 20 °C, more when colder."""
    t = temperature_c
    if t > 20.0:
        return 80.0
    return -0.00267 * t**3 + 0.160 * t**2 - 3.13 * t + 100.0


class MouldIndex:
    """The VTT mould index of a surface, stepped through a climate record.

    Growth (per day) while conditions favour it (0–50 °C, RH at or above the critical RH):
        dM/dt = k1·k2 / (7·exp(−0.68 ln T − 13.9 ln RH + 0.14 W − 0.33 SQ + 66.02))
    with W = 0 (pine), SQ = 0 (resawn surface); k1 = 1 below M = 1, else 2 / (tv/tm − 1) with tm, tv the
    weeks to M = 1 and M = 3; k2 = max(1 − exp(2.3 (M − Mmax)), 0), Mmax = 1 + 7 r − 2 r²,
    r = (RHcrit − RH)/(RHcrit − 100). Otherwise it declines by 0.00133/h for the first 6 h of a dry
    spell, not at all up to 24 h, then 0.000667/h.
    """

    def __init__(self) -> None:
        self.index = 0.0
        self.dry_hours = 0.0
        self.favourable_hours = 0.0

    def step(self, temperature_c: float, rh_pct: float, hours: float) -> float:
        t, rh = temperature_c, rh_pct
        critical = mould_critical_rh(t)
        if 0.0 < t < 50.0 and rh >= critical:
            self.dry_hours = 0.0
            self.favourable_hours += hours
            tm = math.exp(-0.68 * math.log(t) - 13.9 * math.log(rh) + 66.02)  # weeks to M = 1
            tv = math.exp(-0.74 * math.log(t) - 12.72 * math.log(rh) + 61.50)  # weeks to M = 3
            k1 = 1.0 if self.index < 1.0 else 2.0 / max(tv / tm - 1.0, 1e-9)
            r = (critical - rh) / (critical - 100.0) if critical < 100.0 else 1.0
            m_max = 1.0 + 7.0 * r - 2.0 * r * r
            k2 = max(1.0 - math.exp(2.3 * (self.index - m_max)), 0.0)
            self.index += k1 * k2 / (7.0 * tm) * hours / 24.0
        else:
            start = self.dry_hours
            self.dry_hours += hours
            decline = 0.00133 * _overlap(start, self.dry_hours, 0.0, 6.0)
            decline += 0.000667 * _overlap(start, self.dry_hours, 24.0, math.inf)
            self.index = max(0.0, self.index - decline)
        self.index = min(self.index, 6.0)
        return self.index


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


# -- metrics of a record -----------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    ts: float
    """Epoch seconds."""
    temperature_c: float
    rh_pct: float


def weights_h(points: Sequence[Point], max_gap_factor: float = 3.0) -> list[float]:
    """Hours each reading stands for: until the next one, but never more than a few usual intervals, so a
    logger that was off for a week does not make one reading count for the whole week."""
    if len(points) < 2:
        return [1.0] * len(points)
    gaps = [b.ts - a.ts for a, b in pairwise(points)]
    usual = median(gaps) or 1.0
    capped = [min(gap, usual * max_gap_factor) for gap in gaps] + [usual]
    return [gap / 3600.0 for gap in capped]


def _stats(values: Iterable[float], digits: int = 2) -> dict[str, float]:
    values = list(values)
    return {"min": round(min(values), digits), "mean": round(fmean(values), digits), "max": round(max(values), digits)}


def metrics(points: Sequence[Point]) -> dict[str, object]:
    """The IPI metrics of a climate record (points in time order), as the dashboard and the CLI show them."""
    if not points:
        raise ValueError("no readings to compute metrics from")
    weights = weights_h(points)
    hours = sum(weights)
    rates = [decay_rate(p.temperature_c, max(p.rh_pct, 0.01)) for p in points]
    twpi = hours / sum(w * k for w, k in zip(weights, rates, strict=True))
    emcs = [emc_pct(p.temperature_c, p.rh_pct) for p in points]
    mould = MouldIndex()
    peak = 0.0
    for p, w in zip(points, weights, strict=True):
        peak = max(peak, mould.step(p.temperature_c, p.rh_pct, w))
    emc_outside = sum(w for w, e in zip(weights, emcs, strict=True) if not EMC_SAFE[0] <= e <= EMC_SAFE[1])
    return {
        "readings": len(points),
        "hours": round(hours, 2),
        "temperature_c": _stats(p.temperature_c for p in points),
        "rh_pct": _stats(p.rh_pct for p in points),
        "pi_years": _stats((1.0 / k for k in rates), 1),
        "twpi_years": round(twpi, 1),
        "twpi_rating": "good" if twpi >= PI_GOOD else "ok" if twpi >= PI_OK else "risk",
        "emc_pct": _stats(emcs),
        "emc_share_outside_safe": round(emc_outside / hours, 4) if hours else 0.0,
        "dew_point_c": _stats(dew_point_c(p.temperature_c, p.rh_pct) for p in points),
        "mold_risk": {
            "model": "VTT mould index (Hukka & Viitanen 1999), pine sapwood",
            "index_max": round(peak, 3),
            "index_end": round(mould.index, 3),
            "hours_favourable": round(mould.favourable_hours, 2),
            "rating": "visible growth" if peak >= MOULD_VISIBLE else "microscopic growth" if peak >= 1 else "none",
        },
    }
