"""Figures of one record, from its per-point arrays (pure: arrays in, plot geometry or data URIs out)."""
from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from benchbed.leaderboard import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_GRID_BYTES = 8 << 20
GRID_ARRAY = "generative_grid_png"  # benchbed.generative.grid.GRID_ARRAY (no torch import here)
NATURAL = "energy_nat"
KINDS = ("untargeted", "targeted")  # the energy metric's adversarial arrays: energy_adv_<kind>
KIND_CLASS = {"untargeted": "adv-u", "targeted": "adv-t"}
ENERGY_AXIS = "marginal energy E(x) = −logsumexp f(x)  (energy units)"
ENERGY_AXIS_SHORT = "E(x) = −logsumexp f(x)  (energy units)"
GAP_AXIS = "ΔE(x) = E(x) − E(x*)  (energy units; 0 = aligned)"
FRACTION_AXIS = "fraction of points per bin"
FRACTION_AXIS_SHORT = "fraction of points"


def energy_series(arrays: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Natural and adversarial marginal energies, as histogram series (NaN = no x* for that point)."""
    series = []
    if NATURAL in arrays:
        series.append({"values": arrays[NATURAL], "label": "natural", "kind": "nat"})
    for kind in KINDS:
        key = f"energy_adv_{kind}"
        if key in arrays:
            series.append({"values": arrays[key], "label": f"{kind} adv.", "kind": KIND_CLASS[kind]})
    return series


def energy_range(arrays: Mapping[str, Any]) -> tuple[float, float] | None:
    """The span of every energy value in ``arrays`` (for one shared x-range across models)."""
    values = [plots.finite(s["values"]) for s in energy_series(arrays)]
    values = [v for v in values if v is not None]
    if not values:
        return None
    return float(min(v.min() for v in values)), float(max(v.max() for v in values))


def union_range(spans: Iterable[tuple[float, float] | None]) -> tuple[float, float] | None:
    """The span covering every given span (None when there is none): one x-range for several models."""
    spans = [s for s in spans if s is not None]
    return (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None


def energy_histogram(arrays: Mapping[str, Any], *, small: bool,
                     x_range: tuple[float, float] | None = None) -> dict[str, Any] | None:
    series = energy_series(arrays)
    if not series:
        return None
    # a shared range is wider than one model's data: more bins keep each model's shape visible
    bins = (30 if small else 40) if x_range is None else (60 if small else 120)
    size = {"width": 300, "height": 170} if small else {"width": 620, "height": 270}
    return plots.histogram(series, x_label=ENERGY_AXIS_SHORT if small else ENERGY_AXIS,
                           y_label=FRACTION_AXIS_SHORT if small else FRACTION_AXIS,
                           x_range=x_range, bins=bins, **size)


def delta_series(arrays: Mapping[str, Any]) -> list[dict[str, Any]]:
    """ΔE(x) = E(x) − E(x*) per attack kind, point by point (NaN where a point has no x*)."""
    if NATURAL not in arrays:
        return []
    natural = np.asarray(arrays[NATURAL], dtype=float).reshape(-1)
    series = []
    for kind in KINDS:
        key = f"energy_adv_{kind}"
        if key in arrays:
            adv = np.asarray(arrays[key], dtype=float).reshape(-1)
            if adv.shape == natural.shape:
                series.append({"values": natural - adv, "label": f"ΔE, {kind}", "kind": KIND_CLASS[kind]})
    return series


def delta_range(arrays: Mapping[str, Any]) -> tuple[float, float] | None:
    """The span of every energy gap in ``arrays`` (for one shared x-range across models)."""
    values = [v for s in delta_series(arrays) if (v := plots.finite(s["values"])) is not None]
    if not values:
        return None
    return float(min(v.min() for v in values)), float(max(v.max() for v in values))


def delta_histogram(arrays: Mapping[str, Any], x_range: tuple[float, float] | None = None) -> dict[str, Any] | None:
    """Histograms of ΔE(x) = E(x) − E(x*) per attack kind, with a line at 0 (aligned)."""
    series = delta_series(arrays)
    if not series:
        return None
    return plots.histogram(series, x_label=GAP_AXIS, y_label=FRACTION_AXIS, width=620, height=270,
                           bins=40 if x_range is None else 120, zero_line=True, x_range=x_range)


def grid_data_uri(arrays: Mapping[str, Any]) -> str | None:
    """The record's grid of generated samples as a ``data:image/png`` URI, if it kept one."""
    if GRID_ARRAY not in arrays:
        return None
    arr = np.asarray(arrays[GRID_ARRAY])
    if arr.dtype != np.uint8 or arr.ndim != 1 or arr.size > MAX_GRID_BYTES:
        return None
    data = arr.tobytes()
    if not data.startswith(PNG_MAGIC):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
