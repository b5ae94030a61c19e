"""View models of the pages: records (and their arrays) in, plain data for the templates out.

Pure and deterministic: no file I/O (the site writer reads the store and hands arrays in), records
visited in sorted order, ties broken by model name, numbers formatted by
:func:`benchbed.leaderboard.safety.fmt_number`. Which columns lead, rank and get plotted comes from
the columns' own declarations (:class:`benchbed.results.record.ColumnInfo`), never from their names.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchbed.contracts.specs import eps_text
from benchbed.leaderboard import alignment, figures, plots
from benchbed.leaderboard.safety import fmt_number, safe_url, sort_key
from benchbed.results.record import ColumnInfo, Record
from benchbed.results.store import file_stem
from benchbed.results.tables import column_catalogue, reported_numbers, sort_records

NORM_LABELS = {"Linf": "ℓ∞", "L2": "ℓ2", "L1": "ℓ1"}
REPORTED = (("clean_accuracy", "reported_clean_accuracy"), ("robust_accuracy", "reported_robust_accuracy"))


def track_page(track: str) -> str:
    return f"track-{file_stem(track)}.html"


def model_page(model: str) -> str:
    return f"model-{file_stem(model)}.html"


def direction_label(higher: bool | None) -> str:
    return {True: "higher is better", False: "lower is better"}.get(higher, "no direction (informational)")


def direction_arrow(higher: bool | None) -> str:
    return {True: "↑", False: "↓"}.get(higher, "")


# -- columns ----------------------------------------------------------------------------------------------
@dataclass
class ColumnView:
    name: str
    info: ColumnInfo
    group: int = 0  # index into the track's column groups (for the show/hide toggles)
    group_label: str = ""

    @property
    def metric(self) -> str:
        return self.info.metric

    @property
    def description(self) -> str:
        return self.info.description

    @property
    def higher_is_better(self) -> bool | None:
        return self.info.higher_is_better

    @property
    def unit(self) -> str:
        return self.info.unit

    @property
    def headline(self) -> bool:
        return bool(self.info.rank or self.info.headline)

    @property
    def arrow(self) -> str:
        return direction_arrow(self.higher_is_better)

    @property
    def direction(self) -> str:
        return direction_label(self.higher_is_better)

    @property
    def tooltip(self) -> str:
        unit = f"unit: {self.unit}" if self.unit else "no unit"
        protocol = f"; {self.info.protocol}" if self.info.protocol else ""
        return (f"{self.name}: {self.description or '(no description given by the metric)'} ({unit}; "
                f"{self.direction}; metric: {self.metric}{protocol})")

    @property
    def compact(self) -> bool:
        """Shown in the compact (default) view of the board: the rank keys and the headline columns."""
        return self.headline

    @property
    def unit_text(self) -> str:
        """The unit in words for captions ("%", "energy units", "no unit")."""
        return {"": "no unit", "energy": "energy units", "std E(x)": "multiples of the natural std E(x)",
                "nats": "nats"}.get(self.unit, self.unit)

    @property
    def first_sort(self) -> str:
        return "ascending" if self.higher_is_better is False else "descending"

    @property
    def axis_label(self) -> str:
        unit = f" ({self.unit})" if self.unit else ""
        arrow = f", {self.arrow} {self.direction}" if self.higher_is_better is not None else ""
        return f"{self.name}{unit}{arrow}"


def reported_column(key: str) -> ColumnInfo:
    return ColumnInfo(metric="reported", unit="%", higher_is_better=True, group="reported",
                      description=f"{key.replace('_', ' ')} published by the model's source (e.g. RobustBench's own "
                                  f"AutoAttack evaluation on the full test set); not computed by benchbed")


def track_columns(records: Sequence[Record]) -> list[ColumnView]:
    """The track's columns in order of meaning; published numbers right after the rank columns."""
    catalogue = column_catalogue(records)
    reported = [(col, reported_column(key)) for key, col in REPORTED
                if any(key in reported_numbers(r) for r in records)]
    names = list(catalogue.items())
    n_rank = sum(1 for _, c in names if c.rank)
    ordered = names[:n_rank] + reported + names[n_rank:]
    groups: list[str] = []
    out = []
    for name, info in ordered:
        label = info.group or info.metric or "other"
        if label not in groups:
            groups.append(label)
        out.append(ColumnView(name, info, groups.index(label) + 1, label))  # group 0: model information
    return out


def column_groups(columns: Sequence[ColumnView]) -> list[dict[str, Any]]:
    """The column groups of the board's toggles: ``n`` columns, ``more`` of them outside the compact view."""
    out: dict[int, dict[str, Any]] = {}
    for c in columns:
        out.setdefault(c.group, {"id": c.group, "label": c.group_label, "n": 0, "more": 0, "headline": False})
        out[c.group]["n"] += 1
        out[c.group]["more"] += 0 if c.compact else 1
        out[c.group]["headline"] |= c.headline
    return [out[k] for k in sorted(out)]


# -- rows -------------------------------------------------------------------------------------------------
@dataclass
class Cell:
    value: float | None
    display: str
    sort: str
    best: bool = False
    state: str = ""  # "" (a value, or no value: a dash), "not-run" (metric not selected), "failed"
    note: str = ""  # why there is no value (the cell's tooltip)


# -- flags: what they mean and where they are documented -----------------------------------------------
AUTOATTACK_FLAGS_DOC = "https://github.com/fra31/auto-attack/blob/master/flags_doc.md"
# AutoAttack's checks (pyautoattack/checks.py) end every warning with "See flags_doc.md for details";
# each check has its own section there. (words in the warning, section anchor, what it means)
AUTOATTACK_CHECKS = (
    ("randomized", "randomized-defenses",
     "AutoAttack saw the model's predictions or logits change between identical forward passes (a randomized "
     "defense). Standard AutoAttack can overestimate the robustness of such a model; its authors suggest "
     "version='rand' (APGD with expectation over transformation)."),
    ("probability distribution", "softmax-output-is-given",
     "The model seems to return probabilities instead of logits; gradient-based attacks can then fail "
     "numerically, and robust accuracy be overestimated."),
    ("zero gradient", "zero-gradient",
     "Some points have a zero gradient where APGD starts: gradient-based attacks make no progress on them, so "
     "robust accuracy may be overestimated (gradient masking)."),
    ("square attack has decreased", "square-attack-improves-the-robustness-evaluation",
     "The black-box Square attack found adversarial points the white-box attacks missed: a hint that gradients "
     "are masked and that robustness is overestimated."),
    ("dynamic defense", "optimization-at-inference-time-only-pytorch-models",
     "The model computes gradients while classifying (a dynamic defense): AutoAttack alone may not be enough; "
     "adaptive attacks are needed."),
)
AUTOATTACK_OTHER = ("checks", "A warning from AutoAttack's automatic checks of the model (its words are in the "
                               "tooltip and on the model page).")
GUARANTEES = "docs/guarantees.md"
# benchbed's own flags: label -> (section of docs/guarantees.md, what it means)
BENCHBED_FLAGS = {
    "modifies its input": ("Isolation", "The model changes its input tensor in place. benchbed hands every call a "
                                        "private copy, so no other model's data or numbers are affected."),
    "unverified checkpoint": ("The cache key", "The plugin claims no valid sha256 for the checkpoint: the weights "
                                               "are identified by benchbed's fingerprint of what it loaded, but "
                                               "nothing checks that they are the published ones."),
    "quick": ("Variants: quick runs and metric selections",
              "Evaluated on fewer test points than the track asks for (--n-examples): more sampling noise, not "
              "directly comparable with full-protocol numbers, listed unranked."),
    "attack mode": ("Variants: quick runs and metric selections",
                    "Attacked in a cheaper mode its attack declares (--attack-mode; e.g. AutoAttack's fast mode: "
                    "APGD-CE and APGD-T only, without FAB-T and Square). Its robust accuracy is an upper bound on "
                    "the track's own attack's; listed unranked, never in place of a standard result."),
    "partial": ("Variants: quick runs and metric selections",
                "Some of the track's metrics were not selected (--metrics) or failed; the numbers of the metrics "
                "that finished are kept. Listed unranked."),
}


def slug(text: str) -> str:
    """An anchor id: lower case, runs of other characters as one '-' (GitHub's heading anchors, roughly)."""
    out, dash = [], False
    for ch in text.lower():
        if ch.isascii() and ch.isalnum():
            out.append(ch)
            dash = False
        elif not dash and out:
            out.append("-")
            dash = True
    return "".join(out).strip("-") or "flag"


@dataclass(frozen=True)
class FlagView:
    label: str
    detail: str
    kind: str  # "warn" (the attack's), "info" (benchbed's), "quick", "partial"
    key: str = ""  # anchor of its explanation in the track page's flag legend (#flag-<key>)
    explain: str = ""  # what it means, in general
    ref_url: str = ""  # where it is documented (an absolute http(s) link), if anywhere online
    ref_text: str = ""  # the reference in words

    @property
    def anchor(self) -> str:
        return f"flag-{self.key}"


def attack_flag(label: str, detail: str, attack: str) -> FlagView:
    text = detail.lower()
    if attack == "autoattack":
        anchor, explain = next(((a, e) for words, a, e in AUTOATTACK_CHECKS if words in text), AUTOATTACK_OTHER)
        section = "" if anchor == "checks" else f" (§ {anchor.replace('-', ' ')})"
        # AutoAttack's words point at a file of its repository: name the page they mean, linked
        detail = re.sub(r"See flags_doc\.md for details\.?", f"See AutoAttack's flag documentation: "
                        f"{AUTOATTACK_FLAGS_DOC}#{anchor}", detail)
        return FlagView(label, detail, "warn", f"autoattack-{anchor}", explain, f"{AUTOATTACK_FLAGS_DOC}#{anchor}",
                        f"AutoAttack's flags_doc.md{section}")
    return FlagView(label, detail, "warn", f"{slug(attack)}-{slug(label)}",
                    f"A warning of the attack {attack!r} (its words are in the tooltip and on the model page).")


def benchbed_flag(label: str, detail: str, kind: str = "info") -> FlagView:
    section, explain = BENCHBED_FLAGS.get(label, ("", ""))
    ref = f"benchbed's {GUARANTEES}" + (f", section “{section}”" if section else "")
    return FlagView(label, detail, kind, slug(label), explain or "An observation of benchbed's about this model.",
                    "", ref)


def record_flags(rec: Record) -> list[FlagView]:
    attack = rec.attack.name if rec.attack else ""
    flags = [attack_flag(f.label, f.detail, attack) if f.source == "attack" else benchbed_flag(f.label, f.detail)
             for f in rec.flags]
    return flags + status_flags(rec)


def status_flags(rec: Record) -> list[FlagView]:
    """The quick / partial markers of a record (shown beside its name wherever its numbers are)."""
    flags = []
    if rec.quick:
        flags.append(benchbed_flag("quick", f"quick mode: evaluated on {rec.n_examples} of the track's "
                                            f"{rec.registered_n_examples} test points; not directly comparable",
                                   "quick"))
    if rec.fast:
        options = ", ".join(f"{k}={v}" for k, v in sorted(rec.track_info.get("attack_options", {}).items()))
        flags.append(benchbed_flag("attack mode", f"attack mode {rec.attack_mode!r} (--attack-mode): "
                                                  f"{rec.track_info.get('attack', 'the attack')} with {options}; "
                                                  f"a cheaper attack, so its robust accuracy is an upper bound on "
                                                  f"the track's own attack's", "quick"))
    if rec.partial:
        missing = ", ".join(rec.missing_metrics) or "some metrics"
        why = "; ".join(f"{m}: {e}" for m, e in rec.metric_errors.items())
        detail = f"partial record: no numbers for {missing}" + (f" ({why})" if why else "")
        flags.append(benchbed_flag("partial", detail, "partial"))
    return flags


def flag_legend(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Every kind of flag on a track, once: what it means, where it is documented, which models have it."""
    out: dict[str, dict[str, Any]] = {}
    for f in (benchbed_flag("quick", "", "quick"), benchbed_flag("partial", "", "partial")):
        out[f.key] = {"flag": f, "models": []}  # always explained: other runs on model pages link here
    for r in rows:
        for f in r.flags + r.status:
            entry = out.setdefault(f.key, {"flag": f, "models": []})
            if (r.model, r.page) not in entry["models"]:
                entry["models"].append((r.model, r.page))
    order = {"warn": 0, "info": 1, "quick": 2, "partial": 3}
    return [out[k] for k in sorted(out, key=lambda k: (order.get(out[k]["flag"].kind, 9), k))]


@dataclass
class Row:
    record: Record
    cells: dict[str, Cell]
    flags: list[FlagView]  # the attack's warnings and benchbed's observations
    rank: int | None = None
    status: list[FlagView] = field(default_factory=list)  # quick / partial: shown beside the model's name

    @property
    def quick(self) -> bool:
        return self.record.quick

    @property
    def partial(self) -> bool:
        return self.record.partial

    @property
    def status_note(self) -> str:
        """One line on why this row's numbers are not directly comparable ("" for a full record)."""
        return "; ".join(f.detail for f in self.status)

    @property
    def status_class(self) -> str:
        return " ".join(f"is-{f.kind}" for f in self.status)

    @property
    def model(self) -> str:
        return self.record.model

    @property
    def page(self) -> str:
        return model_page(self.record.model)

    @property
    def info(self) -> Mapping[str, Any]:
        return self.record.model_info

    def text(self, key: str) -> str:
        value = self.info.get(key)
        return value if isinstance(value, str) else ""

    @property
    def paper(self) -> str:
        return self.text("paper")

    @property
    def paper_url(self) -> str | None:
        return safe_url(self.info.get("link"))

    @property
    def venue(self) -> str:
        return self.text("venue")

    @property
    def architecture(self) -> str:
        return self.text("architecture")

    @property
    def recipe(self) -> str:
        return self.text("recipe")

    @property
    def family(self) -> str:
        return self.text("family")

    @property
    def footnote(self) -> str:
        return self.text("footnote")

    @property
    def extra_data(self) -> str:
        value = self.info.get("extra_data")
        return {True: "yes", False: "no"}.get(value, "–") if isinstance(value, bool) else "–"

    @property
    def n_examples(self) -> int:
        return self.record.n_examples

    @property
    def search(self) -> str:
        return " ".join([self.model, self.paper, self.venue, self.architecture, self.recipe, self.footnote]).lower()

    @property
    def rank_display(self) -> str:
        return "–" if self.rank is None else str(self.rank)

    @property
    def rank_sort(self) -> str:
        return "" if self.rank is None else str(self.rank)


def missing_cell(rec: Record, c: ColumnView) -> Cell:
    """A cell without a value: a dash, or why -- the metric failed, or this run did not compute it."""
    if c.metric in rec.metric_errors:
        return Cell(None, "failed", "", state="failed", note=f"{c.metric} failed: {rec.metric_errors[c.metric]}")
    if c.metric != "reported" and c.metric not in rec.metrics_run:
        return Cell(None, "not run", "", state="not-run",
                    note=f"{c.metric} was not part of this run (a metric selection)")
    return Cell(None, fmt_number(None), "")


def make_row(rec: Record, columns: Sequence[ColumnView]) -> Row:
    reported = reported_numbers(rec)
    values = {**rec.metrics, **{col: reported[key] for key, col in REPORTED if key in reported}}
    cells = {}
    for c in columns:
        v = values.get(c.name)
        v = None if v is None or math.isnan(v) else v
        cells[c.name] = missing_cell(rec, c) if v is None else Cell(v, fmt_number(v, c.unit), sort_key(v))
    flags = [f for f in record_flags(rec) if f.kind not in ("quick", "partial")]
    return Row(rec, cells, flags, status=status_flags(rec))


def rank_rows(rows: list[Row], columns: Sequence[ColumnView]) -> list[Row]:
    """Best first by the rank columns; competition ranks on the first of them. A record that lacks the
    first rank column (or is quick or partial) is listed, unranked."""
    catalogue = {c.name: c.info for c in columns if c.info.rank}
    order = {id(r): i for i, r in enumerate(sort_records([row.record for row in rows], catalogue))}
    rows = sorted(rows, key=lambda r: order[id(r.record)])
    primary = min(catalogue, key=lambda n: catalogue[n].rank) if catalogue else None
    prev, rank, position = None, 0, 0
    for r in rows:
        v = r.cells[primary].value if primary else None
        if v is None or r.record.quick or r.record.partial or r.record.fast:
            r.rank = None
            continue
        position += 1
        if v != prev:
            rank, prev = position, v
        r.rank = rank
    return rows


def best_per_column(rows: Sequence[Row], columns: Sequence[ColumnView]) -> dict[str, dict[str, Any]]:
    """For each column with a direction: the best value among ranked rows and the models that reach it.

    A track with no ranked row at all (every record quick or partial) still names its best values,
    from those rows, marked ``unranked`` (the index shows them with their quick / partial marker)."""
    best: dict[str, dict[str, Any]] = {}
    ranked = [r for r in rows if r.rank is not None]
    pool = ranked or list(rows)
    for c in columns:
        if c.higher_is_better is None:
            continue
        vals = [r.cells[c.name].value for r in pool if r.cells[c.name].value is not None
                and math.isfinite(r.cells[c.name].value)]
        if not vals:
            continue
        target = max(vals) if c.higher_is_better else min(vals)
        winners = [r for r in pool if r.cells[c.name].value == target]
        for r in winners:
            r.cells[c.name].best = bool(ranked)
        best[c.name] = {"column": c, "value": fmt_number(target, c.unit), "unranked": not ranked,
                        "models": [(w.model, w.page) for w in winners], "rows": winners}
    return best


# -- tracks -----------------------------------------------------------------------------------------------
def track_meta(name: str, records: Sequence[Record]) -> dict[str, Any]:
    """Track settings: the record with the most test points speaks for the track."""
    full = max(records, key=lambda r: (r.n_examples, r.model))
    info = full.track_info
    generation = info.get("generation") if isinstance(info.get("generation"), dict) else {}
    versions = sorted({r.attack.version for r in records if r.attack})
    newest = sorted(r.finished_at for r in records if r.finished_at)
    return {
        "name": name, "page": track_page(name), "slug": file_stem(name), "dataset": full.dataset,
        "norm": full.norm, "norm_label": NORM_LABELS.get(full.norm, full.norm),
        "eps": eps_text(full.eps, str(info.get("eps_label") or "")),
        "description": str(info.get("description") or ""), "n_examples": full.registered_n_examples,
        "attack": full.attack.name if full.attack else str(info.get("attack") or "–"),
        "attack_versions": ", ".join(versions) or "–", "seed": str(full.seed),
        "generation": [(str(k), str(v)) for k, v in sorted(generation.items())],
        "newest": newest[-1][:10] if newest else "–",
    }


@dataclass
class TrackView:
    name: str
    meta: dict[str, Any]
    records: list[Record]
    columns: list[ColumnView]
    groups: list[dict[str, Any]]
    rows: list[Row]
    best: dict[str, dict[str, Any]]
    recipes: list[str]
    recipe_colors: dict[str, int]
    scatter: dict[str, Any] | None = None
    scatter_missing: int = 0
    scatter_x: ColumnView | None = None
    scatter_y: ColumnView | None = None
    histograms: list[dict[str, Any]] = field(default_factory=list)
    energy_range: tuple[float, float] | None = None  # one x-range for every model's energy histograms
    delta_range: tuple[float, float] | None = None  # ... and for their energy-gap histograms
    flags: list[dict[str, Any]] = field(default_factory=list)  # the flag legend (see flag_legend)
    # across the zoo: robust accuracy vs each energy-alignment column (benchbed.leaderboard.alignment)
    alignment: list[dict[str, Any]] = field(default_factory=list)
    alignment_x: ColumnView | None = None
    alignment_y: ColumnView | None = None
    alignment_scatter: dict[str, Any] | None = None
    alignment_rho: dict[str, Any] | None = None

    @property
    def rank_columns(self) -> list[ColumnView]:
        """The rank keys, first key first."""
        return sorted((c for c in self.columns if c.info.rank), key=lambda c: c.info.rank)

    @property
    def compact_columns(self) -> list[ColumnView]:
        return [c for c in self.columns if c.compact]

    @property
    def n_quick(self) -> int:
        return sum(1 for r in self.rows if r.quick)

    @property
    def n_partial(self) -> int:
        return sum(1 for r in self.rows if r.partial)

    @property
    def n_ranked(self) -> int:
        return sum(1 for r in self.rows if r.rank is not None)

    @property
    def page(self) -> str:
        return self.meta["page"]

    @property
    def slug(self) -> str:
        return self.meta["slug"]


def _axis(columns: Sequence[ColumnView], axis: str) -> ColumnView | None:
    return next((c for c in columns if c.info.plot == axis), None)


def build_track(name: str, records: Sequence[Record], arrays: Mapping[str, Mapping[str, Any]]) -> TrackView:
    """The track page's data. ``records``: one per model (see :func:`benchbed.results.tables.shown_records`);
    ``arrays``: each model's per-point arrays, by model name."""
    records = list(records)
    columns = track_columns(records)
    rows = rank_rows([make_row(r, columns) for r in records], columns)
    best = best_per_column(rows, columns)
    recipes = sorted({r.recipe for r in rows if r.recipe})
    colors = {rec: i % plots.N_COLORS for i, rec in enumerate(recipes)}
    view = TrackView(name, track_meta(name, records), records, columns, column_groups(columns), rows, best, recipes,
                     colors)
    ycol, xcol = _axis(columns, "y"), _axis(columns, "x")
    if ycol is not None and xcol is not None:
        points = []
        for r in rows:
            x, y = r.cells[xcol.name].value, r.cells[ycol.name].value
            points.append({
                "x": x, "y": y, "label": r.model, "href": r.page, "color": colors.get(r.recipe, 0),
                "title": f"{r.model} ({r.recipe or 'recipe unknown'}): {ycol.name} {r.cells[ycol.name].display}"
                         f"{ycol.unit and ' ' + ycol.unit}, {xcol.name} {r.cells[xcol.name].display}"
                         f"{xcol.unit and ' ' + xcol.unit}",
            })
        view.scatter_x, view.scatter_y = xcol, ycol
        view.scatter = plots.scatter(points, x_label=xcol.axis_label, y_label=ycol.axis_label,
                                     label_points=len(rows) <= 12)
        view.scatter_missing = sum(1 for p in points if p["x"] is None or p["y"] is None)
    view.energy_range = figures.union_range(figures.energy_range(arrays.get(r.model, {})) for r in rows)
    view.delta_range = figures.union_range(figures.delta_range(arrays.get(r.model, {})) for r in rows)
    for r in rows:
        hist = figures.energy_histogram(arrays.get(r.model, {}), small=True, x_range=view.energy_range)
        if hist is not None:
            view.histograms.append({"model": r.model, "page": r.page, "plot": hist, "row": r})
    view.flags = flag_legend(rows)
    alignment.build(view)
    return view
