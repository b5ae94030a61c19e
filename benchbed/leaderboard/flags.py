"""Flags beside a model's numbers: the attack's warnings (explained by the attack's own declaration,
:class:`benchbed.contracts.figures.FlagExplanation`) and benchbed's observations (docs/guarantees.md)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchbed.leaderboard.presentation import Presentation
from benchbed.leaderboard.safety import safe_url
from benchbed.results.record import Record

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


def attack_flag(label: str, detail: str, attack: str, presentation: Presentation | None = None) -> FlagView:
    """An attack's warning, with the explanation its attack declares (AttackSpec.flag_explanations)."""
    declared = (presentation or Presentation()).flag_explanation(attack, detail)
    if declared is not None:
        return FlagView(label, declared.reworded(detail), "warn", f"{slug(attack)}-{declared.key}", declared.explain,
                        safe_url(declared.ref_url) or "", declared.ref_text)
    return FlagView(label, detail, "warn", f"{slug(attack)}-{slug(label)}",
                    f"A warning of the attack {attack!r} (its words are in the tooltip and on the model page).")


def benchbed_flag(label: str, detail: str, kind: str = "info") -> FlagView:
    section, explain = BENCHBED_FLAGS.get(label, ("", ""))
    ref = f"benchbed's {GUARANTEES}" + (f", section “{section}”" if section else "")
    return FlagView(label, detail, kind, slug(label), explain or "An observation of benchbed's about this model.",
                    "", ref)


def record_flags(rec: Record, presentation: Presentation | None = None) -> list[FlagView]:
    attack = rec.attack.name if rec.attack else ""
    flags = [attack_flag(f.label, f.detail, attack, presentation) if f.source == "attack"
             else benchbed_flag(f.label, f.detail) for f in rec.flags]
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


def flag_legend(rows: Sequence[Any]) -> list[dict[str, Any]]:
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
