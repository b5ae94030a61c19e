"""What the registered plugins declare about their presentation, gathered once per render.

The pages know no plugin by name: an attack's flag explanations (``AttackSpec.flag_explanations``), a
metric's figures, unit words and alignment role (``MetricSpec.figures / unit_texts / alignment``) and a
study's figures (``StudySpec.figures``) all come from here. A plugin that is not installed when the pages
are rendered simply contributes no figures: its stored numbers still show.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from benchbed.contracts.figures import ArrayPlot, FlagExplanation

BASE_UNIT_TEXTS = {"": "no unit"}


@dataclass(frozen=True)
class Presentation:
    attacks: Mapping[str, Any] = field(default_factory=dict)  # name -> AttackSpec
    metrics: Mapping[str, Any] = field(default_factory=dict)  # name -> MetricSpec
    studies: Mapping[str, Any] = field(default_factory=dict)  # name -> StudySpec

    @classmethod
    def from_registry(cls, registry: Any) -> Presentation:
        return cls(attacks={a.name: a for a in registry.attacks}, metrics={m.name: m for m in registry.metrics},
                   studies={s.name: s for s in registry.studies})

    @classmethod
    def installed(cls) -> Presentation:
        """From the plugins this process loads (built-ins, installed distributions, plugin files)."""
        from benchbed import registry as plugin_registry

        return cls.from_registry(plugin_registry.registry())

    def flag_explanation(self, attack: str, detail: str) -> FlagExplanation | None:
        spec = self.attacks.get(attack)
        return spec.explain_flag(detail) if spec is not None else None

    def metric_figures(self, metric: str) -> tuple[ArrayPlot, ...]:
        spec = self.metrics.get(metric)
        return tuple(spec.figures) if spec is not None else ()

    def array_plots(self, metrics: Any) -> list[tuple[str, ArrayPlot]]:
        """(metric, plot) for every figure the given metrics declare, in the metrics' order."""
        return [(m, p) for m in dict.fromkeys(metrics) for p in self.metric_figures(m)]

    @property
    def unit_texts(self) -> dict[str, str]:
        out = dict(BASE_UNIT_TEXTS)
        for spec in self.metrics.values():
            for unit, text in spec.unit_texts.items():
                out.setdefault(unit, text)
        return out

    def is_alignment(self, metric: str) -> bool:
        spec = self.metrics.get(metric)
        return bool(spec is not None and spec.alignment)

    def study(self, kind: str) -> Any | None:
        return self.studies.get(kind)
