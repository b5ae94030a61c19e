"""The built-in joint samplers' default knobs (no torch here: listing samplers must stay cheap).

A track's ``GenerationSettings.options`` override them; see docs/generative.md for what each means."""
from __future__ import annotations

# jem-sgld: JEM's eval_wrn_ebm.py uncond_samples (README: --n_steps 40, --reinit_freq 0.05, sgld_lr 1.0 and
# sgld_std 0.01 on [-1, 1] inputs = 0.25 and 0.005 on [0, 1] pixels; 1000 rounds of 64 chains over a
# 10,000-slot buffer = 6.4 visits per slot)
JEM_DEFAULTS = {"steps": 40, "visits": 6.4, "step_size": 0.25, "noise": 0.005, "reinit": 0.05, "buffer": "model"}
# jem-sgld-conditional: benchbed's earlier class-conditional variant (one buffer slot per requested label)
JEM_CONDITIONAL_DEFAULTS = {"steps": 20, "step_size": 0.25, "noise": 0.005, "reinit": 0.05, "passes": 5,
                            "conditional": True}
JEM_BUFFERS = ("model", "uniform")  # the model's own replay buffer where it hands one over, else U[0, 1]
DAT_DEFAULTS = {"steps": 33, "step_size": 0.2, "select_steps": [], "select_samples": 1000}
