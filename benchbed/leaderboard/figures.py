"""Figures of one record's per-point arrays, as its metrics declare them (:class:`benchbed.plugin.ArrayPlot`).

Pure: arrays and declarations in, plot geometry (:mod:`.plots`) or data URIs out. No array or metric
is known here by name.
"""
from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from benchbed.contracts.figures import ArrayPlot
from benchbed.leaderboard import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_GRID_BYTES = 8 << 20
FRACTION_AXIS = "fraction of points per bin"
FRACTION_AXIS_SHORT = "fraction of points"
SIZES = {True: {"width": 300, "height": 170}, False: {"width": 620, "height": 270}}  # small, large


def series_of(arrays: Mapping[str, Any], plot: ArrayPlot) -> list[dict[str, Any]]:
    """The plot's series present in ``arrays`` (``minus``: the difference, point by point, where the
    shapes agree); NaN stays NaN (e.g. no x* for that point) and is left out when drawn."""
    out = []
    for s in plot.series:
        if s.array not in arrays or (s.minus and s.minus not in arrays):
            continue
        values = np.asarray(arrays[s.array], dtype=float).reshape(-1)
        if s.minus:
            other = np.asarray(arrays[s.minus], dtype=float).reshape(-1)
            if other.shape != values.shape:
                continue
            values = values - other
        out.append({"values": values, "label": s.label, "kind": s.style})
    return out


def data_range(arrays: Mapping[str, Any], plot: ArrayPlot) -> tuple[float, float] | None:
    """The span of every value the plot would draw (for one shared x-range across models)."""
    values = [v for s in series_of(arrays, plot) if (v := plots.finite(s["values"])) is not None]
    if not values:
        return None
    return float(min(v.min() for v in values)), float(max(v.max() for v in values))


def union_range(spans: Iterable[tuple[float, float] | None]) -> tuple[float, float] | None:
    """The span covering every given span (None when there is none): one x-range for several models."""
    spans = [s for s in spans if s is not None]
    return (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None


def axis_label(text: str, unit: str) -> str:
    return f"{text}  ({unit})" if unit else text


def draw(arrays: Mapping[str, Any], plot: ArrayPlot, *, small: bool = False,
         x_range: tuple[float, float] | None = None) -> dict[str, Any] | None:
    """The plot's geometry from one record's arrays (None when none of its arrays is there)."""
    series = series_of(arrays, plot)
    if not series:
        return None
    x_text = plot.short_x_label if small and plot.short_x_label else plot.x_label
    if plot.kind == "histogram":
        # a shared range is wider than one model's data: more bins keep each model's shape visible
        bins = (30 if small else 40) if x_range is None else (60 if small else 120)
        y_label = plot.y_label or (FRACTION_AXIS_SHORT if small else FRACTION_AXIS)
        return plots.histogram(series, x_label=axis_label(x_text, plot.unit), y_label=y_label, x_range=x_range,
                               bins=bins, zero_line=plot.zero_line, **SIZES[small])
    if plot.kind == "scatter":
        xs, ys = series[0]["values"], series[-1]["values"] if len(series) == 2 else None
        if ys is None or xs.shape != ys.shape:
            return None
        points = [{"x": float(x), "y": float(y), "label": "", "title": f"point {i}", "href": None,
                   "color": 0} for i, (x, y) in enumerate(zip(xs, ys, strict=True))]
        return plots.scatter(points, x_label=axis_label(plot.x_label or series[0]["label"], plot.unit),
                             y_label=axis_label(plot.y_label or series[1]["label"], plot.unit),
                             y_clamp=(float("-inf"), float("inf")), label_points=False, **SIZES[small])
    if plot.kind == "line":
        return plots.lines([{"x": list(range(s["values"].size)), "y": [float(v) for v in s["values"]],
                             "label": s["label"], "kind": s["kind"]} for s in series],
                           x_label=plot.x_label or "point", y_label=axis_label(plot.y_label, plot.unit),
                           **SIZES[small])
    return None


def image_uri(arrays: Mapping[str, Any], plot: ArrayPlot) -> str | None:
    """An "image" plot's PNG (kept as a uint8 array) as a ``data:image/png`` URI, if it is a PNG."""
    name = plot.series[0].array
    if plot.kind != "image" or name not in arrays:
        return None
    arr = np.asarray(arrays[name])
    if arr.dtype != np.uint8 or arr.ndim != 1 or arr.size > MAX_GRID_BYTES:
        return None
    data = arr.tobytes()
    if not data.startswith(PNG_MAGIC):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def info_text(info: Any, path: Iterable[str]) -> str:
    """The text at ``path`` in a metric's recorded info ("" when it is not a string there)."""
    for key in path:
        info = info.get(key) if isinstance(info, dict) else None
    return info if isinstance(info, str) else ""
