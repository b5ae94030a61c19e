"""Every std column says it is the population std (ddof 0), which is what its reduction computes."""
from __future__ import annotations

import numpy as np

from benchbed.functional.energy import mean_std
from benchbed.registry import PluginHost


def test_std_columns_say_population_std():
    reg = PluginHost(load_external=False).registry
    track = reg.tracks.get("digits-linf")
    std_columns = [c for m in reg.metrics for c in m.columns_for(track) if "_std" in c.name]
    assert len(std_columns) >= 5
    for column in std_columns:
        assert "population std (ddof 0)" in column.description, column.name
    values = np.random.default_rng(0).normal(size=50)
    assert mean_std(values)[1] == np.std(values, ddof=0) != np.std(values, ddof=1)
