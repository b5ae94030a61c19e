"""What plugins declare about how the pages present them (drawn by :mod:`benchbed.leaderboard`).

Attacks explain their warnings (:class:`FlagExplanation`), metrics name the per-point arrays to draw
(:class:`ArrayPlot`), studies return :class:`Figure` objects from their stored results. Plain data:
the pages compute the geometry and escape every text, so the leaderboard needs no plugin's name.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchbed.contracts.errors import ConfigError


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass(frozen=True)
class FlagExplanation:
    """What an attack's warning means, for the pages' flag legend (declared by the attack).

    A warning whose detail contains ``match`` (case-insensitive) gets this explanation; ``match=""``
    is the attack's catch-all for its other warnings. ``key``: the anchor's suffix (a plain word);
    ``ref_url``/``ref_text``: where the attack's authors document it; ``reword``: (words, replacement)
    pairs applied to the warning's text where the pages show it (e.g. a file name its authors cite, as
    the address readers can open)."""

    key: str
    explain: str
    match: str = ""
    ref_url: str = ""
    ref_text: str = ""
    reword: tuple[tuple[str, str], ...] = ()

    def reworded(self, detail: str) -> str:
        for words, replacement in self.reword:
            detail = detail.replace(words, replacement)
        return detail

    def __post_init__(self):
        _require(re.fullmatch(r"[a-z0-9][a-z0-9-]{0,79}", self.key) is not None,
                 f"flag explanation key {self.key!r} must be lower-case letters, digits and '-'")



PLOT_KINDS = ("histogram", "scatter", "line", "image")


@dataclass(frozen=True)
class ArraySeries:
    """One series of an :class:`ArrayPlot`: the per-point array ``array`` (minus the array ``minus``,
    point by point, when given), its legend ``label`` and ``style`` (a colour role of the pages:
    "nat", "adv-u", "adv-t", "adv-o", or "c0".."c7")."""

    array: str
    label: str
    style: str = "nat"
    minus: str = ""


@dataclass(frozen=True)
class ArrayPlot:
    """A figure a metric asks the pages to draw from its stored per-point arrays.

    ``kind``: "histogram" (fraction of points per bin, series overlaid), "scatter" (the first series
    against the second, point by point), "line" (each series against the point index) or "image"
    (PNG bytes kept as a uint8 array). ``unit`` is the data axis's unit, shown in its label.
    ``shared_range``: one x-range for every model of a track, so panels compare by eye; ``zoom``:
    also draw a model on its own range when the shared one is much wider; ``track_panel``: one small
    panel per model on the track page. ``caption_info``: for images, a path into the metric's
    recorded info whose text completes the caption. Series that are absent are skipped, and a plot
    with none is not drawn."""

    name: str
    kind: str
    series: tuple[ArraySeries, ...]
    title: str
    x_label: str = ""
    y_label: str = ""
    unit: str = ""
    caption: str = ""
    section: str = ""  # the heading the page groups it under (default: the title)
    short_x_label: str = ""  # for the track page's small panels (default: x_label)
    shared_range: bool = False
    zoom: bool = False
    zero_line: bool = False
    track_panel: bool = False
    track_explain: str = ""  # the track page's paragraph above its small panels
    caption_info: tuple[str, ...] = ()

    def __post_init__(self):
        _require(self.kind in PLOT_KINDS, f"array plot {self.name!r}: kind must be one of {PLOT_KINDS}, "
                                          f"got {self.kind!r}")
        _require(bool(self.series), f"array plot {self.name!r}: name at least one array (series)")
        _require(self.kind != "scatter" or len(self.series) == 2,
                 f"array plot {self.name!r}: a scatter plot takes exactly two series (x, then y)")


@dataclass(frozen=True)
class Series:
    """One drawn series of a study figure: ``x`` and ``y`` (lines), or ``values`` (histograms)."""

    label: str
    style: str = "nat"  # a colour role: "nat", "adv-u", "adv-t", "adv-o", or "c0".."c7"
    x: Sequence[float] = ()
    y: Sequence[float | None] = ()
    values: Any = None
    dashed: bool = False


@dataclass(frozen=True)
class Figure:
    """A figure a study draws from its stored result: a "line" chart or a "histogram".

    Plain data only (the pages compute the geometry and escape every text). ``group``: figures with
    the same group sit under one heading (the group's text) in one row. ``x_range``/``y_clamp``,
    ``zero_line`` and ``x_ticks`` tune the axes; ``small``: a compact panel."""

    kind: str
    title: str
    series: tuple[Series, ...]
    x_label: str
    y_label: str
    caption: str = ""
    group: str = ""
    x_range: tuple[float, float] | None = None
    y_clamp: tuple[float, float] | None = None
    zero_line: bool = False
    x_ticks: tuple[float, ...] | None = None
    small: bool = False
    width: int = 0  # pixels; 0: the kind's default

    def __post_init__(self):
        _require(self.kind in ("line", "histogram"), f"figure {self.title!r}: kind must be 'line' or 'histogram'")
