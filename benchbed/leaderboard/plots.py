"""Plot geometry for the pages' inline SVG, computed in Python.

These functions return plain dicts of coordinates (already formatted as fixed-precision strings, so
the same records always give the same bytes) and labels (plain text). The SVG markup itself is
written by the ``macros.html.j2`` template, where jinja2 escapes every label.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchbed.leaderboard.safety import fmt_number

N_COLORS = 8  # classes c0..c7 in style.css


def num(x: float, digits: int = 1) -> str:
    """Fixed-precision coordinate; never "-0.0"."""
    s = f"{x:.{digits}f}"
    if s.startswith("-") and float(s) == 0:
        s = s[1:]
    return s


def nice_step(span: float, target: int) -> float:
    raw = span / max(1, target)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def nice_ticks(lo: float, hi: float, target: int = 5) -> tuple[float, float, list[float], float]:
    """A padded [lo, hi] domain with round tick values inside it."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi < lo:
        lo, hi = hi, lo
    if hi - lo < 1e-12:
        pad = abs(lo) * 0.05 or 0.5
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo, target)
    start = math.floor(lo / step + 1e-9) * step
    stop = math.ceil(hi / step - 1e-9) * step
    ticks = []
    k = 0
    while True:
        t = start + k * step
        if t > stop + step * 1e-6:
            break
        ticks.append(round(t, 12))
        k += 1
        if k > 50:
            break
    return start, stop, ticks, step


def tick_label(t: float, step: float) -> str:
    exp = math.floor(math.log10(step)) if step > 0 else 0
    mantissa = step / 10 ** exp if step > 0 else 1
    digits = max(0, -exp) + (1 if abs(mantissa - 2.5) < 1e-9 else 0)
    return num(t, min(digits, 8))


class _Axis:
    def __init__(self, lo: float, hi: float, px0: float, px1: float, target: int = 5, clamp=None):
        self.lo, self.hi, self.ticks, self.step = nice_ticks(lo, hi, target)
        if clamp is not None:
            self.lo, self.hi = max(self.lo, clamp[0]), min(self.hi, clamp[1])
            self.ticks = [t for t in self.ticks if self.lo - 1e-9 <= t <= self.hi + 1e-9]
        self.px0, self.px1 = px0, px1

    def __call__(self, v: float) -> float:
        span = self.hi - self.lo or 1.0
        return self.px0 + (v - self.lo) / span * (self.px1 - self.px0)

    def tick_marks(self) -> list[dict[str, str]]:
        return [{"pos": num(self(t)), "label": tick_label(t, self.step)} for t in self.ticks]


def scatter(points: Sequence[dict[str, Any]], *, x_label: str, y_label: str, y_clamp=(0.0, 100.0),
            width: int = 680, height: int = 420, label_points: bool = True) -> dict[str, Any] | None:
    """Geometry of a scatter plot. ``points``: dicts with x, y, label, title, href, color (int)."""
    pts = [p for p in points if p["x"] is not None and p["y"] is not None
           and math.isfinite(p["x"]) and math.isfinite(p["y"])]
    if not pts:
        return None
    left, right, top, bottom = 64, 28, 18, 58
    xs = [p["x"] for p in pts]
    ys = [p["y"] for p in pts]
    xa = _Axis(min(xs), max(xs), left, width - right, 6)
    y_lo, y_hi = min(ys), max(ys)
    ya = _Axis(y_lo, y_hi, height - bottom, top, 5, clamp=y_clamp if y_lo >= y_clamp[0] and y_hi <= y_clamp[1]
               else None)
    out_pts = []
    for p in pts:
        cx, cy = xa(p["x"]), ya(p["y"])
        anchor_end = cx > (left + width - right) / 2 + (width - left - right) * 0.25
        out_pts.append({
            "cx": num(cx), "cy": num(cy), "color": p.get("color", 0) % N_COLORS,
            "label": p.get("label", "") if label_points else "", "title": p.get("title", ""),
            "href": p.get("href"), "lx": num(cx - 8 if anchor_end else cx + 8), "ly": num(cy - 7),
            "anchor": "end" if anchor_end else "start",
        })
    return {
        "width": width, "height": height, "left": left, "right": width - right, "top": top,
        "bottom": height - bottom, "xticks": xa.tick_marks(), "yticks": ya.tick_marks(), "points": out_pts,
        "x_label": x_label, "y_label": y_label, "x_label_x": num((left + width - right) / 2),
        "x_label_y": num(height - 14), "y_label_x": num(16), "y_label_y": num((top + height - bottom) / 2),
    }


def lines(series: Sequence[dict[str, Any]], *, x_label: str, y_label: str, width: int = 420, height: int = 240,
          y_clamp: tuple[float, float] | None = None, zero_line: bool = False,
          x_ticks: Sequence[float] | None = None) -> dict[str, Any] | None:
    """Geometry of a line chart with markers. ``series``: dicts with ``x``, ``y`` (equal-length sequences),
    ``label`` and ``kind`` (a colour role: nat, adv-u, adv-t, adv-o, or c0..c7), optionally ``dashed``.
    Non-finite points are skipped; markers are drawn for up to 40 points a series."""
    data = []
    for s in series:
        pts = [(float(x), float(y)) for x, y in zip(s["x"], s["y"], strict=True)
               if y is not None and math.isfinite(float(x)) and math.isfinite(float(y))]
        if pts:
            data.append((s, pts))
    if not data:
        return None
    xs = [x for _, pts in data for x, _ in pts]
    ys = [y for _, pts in data for _, y in pts] + ([0.0] if zero_line else [])
    left, right, top, bottom = 58, 24, 12, 44
    xa = _Axis(min(xs), max(xs), left, width - right, 6)
    y_lo, y_hi = min(ys), max(ys)
    clamp = y_clamp if y_clamp is not None and y_clamp[0] <= y_lo and y_hi <= y_clamp[1] else None
    ya = _Axis(y_lo, y_hi, height - bottom, top, 5, clamp=clamp)
    out = []
    for s, pts in data:
        path = "".join(f"{'M' if i == 0 else 'L'}{num(xa(x))} {num(ya(y))}" for i, (x, y) in enumerate(pts))
        markers = [{"cx": num(xa(x)), "cy": num(ya(y)), "title": f"{s['label']}: {fmt_number(y)} at {x_label} "
                    f"{fmt_number(x)}"} for x, y in pts] if len(pts) <= 40 else []
        kind = str(s.get("kind", "nat"))
        palette = kind[:1] == "c" and kind[1:].isdigit()  # c0..c7: the recipe colours
        out.append({"path": path, "kind": kind, "label": s["label"], "markers": markers,
                    "dashed": bool(s.get("dashed")), "line_class": kind if palette else f"ln-{kind}",
                    "marker_class": f"pt {kind}" if palette else f"mk ln-{kind}",
                    "swatch_class": kind if palette else f"h-{kind}"})
    xticks = xa.tick_marks()
    if x_ticks is not None:  # the grid's own values (e.g. the eps multipliers)
        xticks = [{"pos": num(xa(t)), "label": fmt_number(t)} for t in x_ticks if xa.lo <= t <= xa.hi]
    return {
        "width": width, "height": height, "left": left, "right": width - right, "top": top, "bottom": height - bottom,
        "xticks": xticks, "yticks": ya.tick_marks(), "series": out,
        "x_label": x_label, "x_label_x": num((left + width - right) / 2), "x_label_y": num(height - 8),
        "y_label": y_label, "y_label_x": num(14), "y_label_y": num((top + height - bottom) / 2),
        "zero_y": num(ya(0.0)) if zero_line and ya.lo <= 0 <= ya.hi else None,
    }


def finite(a: Any) -> np.ndarray | None:
    try:
        arr = np.asarray(a, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None
    arr = arr[np.isfinite(arr)]
    return arr if arr.size else None


def histogram(series: Sequence[dict[str, Any]], *, x_label: str, y_label: str = "", width: int = 320,
              height: int = 170, bins: int = 30, zero_line: bool = False,
              x_range: tuple[float, float] | None = None) -> dict[str, Any] | None:
    """Overlaid step histograms (fraction of points per bin) on shared bins, with a dashed mean line each.

    ``series``: dicts with ``values`` (1-D array), ``label`` and ``kind`` (a CSS class suffix).
    ``x_range``: the bins' span (e.g. shared by several models' plots so they compare by eye);
    default: the data's.
    """
    data = []
    for s in series:
        arr = finite(s["values"])
        if arr is not None:
            data.append((s, arr))
    if not data:
        return None
    lo = min(float(a.min()) for _, a in data)
    hi = max(float(a.max()) for _, a in data)
    if x_range is not None:
        lo, hi = min(lo, x_range[0]), max(hi, x_range[1])
    if zero_line:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    left, right, top, bottom = (54 if y_label else 40), 12, 10, 42
    xa = _Axis(lo, hi, left, width - right, 5)
    fractions = [np.histogram(a, bins=edges)[0] / a.size for _, a in data]
    ymax = max(float(f.max()) for f in fractions) or 1.0
    ya = _Axis(0.0, ymax, height - bottom, top, 3, clamp=(0.0, 1.0))
    base = ya(0.0)
    out = []
    for (s, arr), frac in zip(data, fractions, strict=True):
        cmds = [f"M{num(xa(edges[0]))} {num(base)}"]
        for i, f in enumerate(frac):
            y = num(ya(float(f)))
            cmds.append(f"L{num(xa(edges[i]))} {y}L{num(xa(edges[i + 1]))} {y}")
        cmds.append(f"L{num(xa(edges[-1]))} {num(base)}Z")
        mean = float(arr.mean())
        out.append({
            "path": "".join(cmds), "kind": s.get("kind", "other"), "label": s["label"],
            "mean_x": num(xa(mean)), "mean": fmt_number(mean), "std": fmt_number(float(arr.std())),
            "n": int(arr.size),
        })
    return {
        "width": width, "height": height, "left": left, "right": width - right, "top": top,
        "bottom": height - bottom, "xticks": xa.tick_marks(), "yticks": ya.tick_marks(), "series": out,
        "x_label": x_label, "x_label_x": num((left + width - right) / 2), "x_label_y": num(height - 6),
        "y_label": y_label, "y_label_x": num(13), "y_label_y": num((top + height - bottom) / 2),
        "zero_x": num(xa(0.0)) if zero_line and xa.lo <= 0 <= xa.hi else None,
    }
