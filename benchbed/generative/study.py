"""Deprecated: the generation study moved to :mod:`benchbed.studies.generation_study` (0.3; removed in 0.4)."""
from __future__ import annotations

import warnings

from benchbed.studies.generation_study import (  # noqa: F401
    DEFAULT_STEPS,
    KIND,
    OWN_SEEDS,
    run_generation_study,
    settings_for,
)

warnings.warn("benchbed.generative.study moved to benchbed.studies.generation_study; the old name goes in 0.4",
              DeprecationWarning, stacklevel=2)
