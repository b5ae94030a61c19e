"""The built-in joint samplers' default knobs and the feature extractors with a class head (no torch here:
listing samplers and metrics must stay cheap).

A track's ``GenerationSettings.options`` override them; see docs/generative.md for what each means."""
from __future__ import annotations

JEM_DEFAULTS = {"steps": 20, "step_size": 0.25, "noise": 0.005, "reinit": 0.05, "passes": 5, "conditional": True}
DAT_DEFAULTS = {"steps": 33, "step_size": 0.2, "select_steps": [], "select_samples": 1000}

# feature extractor -> the dataset whose classes its head predicts (it can then judge a sample's class)
CLASSIFYING_EXTRACTORS = {"digits-cnn": "digits"}
