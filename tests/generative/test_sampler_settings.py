"""A record keeps only the generation settings its sampler reads (SamplerSpec.uses)."""
from __future__ import annotations

import dataclasses

import pytest
import torch

import benchbed
from benchbed.contracts.errors import ConfigError
from benchbed.contracts.specs import METRIC_SETTINGS, GenerationSettings, SamplerSpec


def test_info_for_keeps_the_metric_settings_and_what_the_sampler_uses():
    settings = GenerationSettings(seed_kind="gaussian", steps=7)
    assert settings.info_for(None) == settings.info()
    kept = settings.info_for(("steps",))
    assert set(kept) == set(METRIC_SETTINGS) | {"steps"} and kept["steps"] == 7
    with pytest.raises(ConfigError, match="uses names \\['seed_knid'\\]"):
        SamplerSpec(name="s", sample=lambda request: None, uses=("seed_knid",))


@pytest.mark.slow
def test_a_seed_free_samplers_record_has_no_seed_kind(registry):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    track = registry.tracks.get("digits-linf")
    records = {}
    for sampler, options in (("jem-sgld-conditional", {"steps": 2, "passes": 1}), ("sgld", {})):
        gen = dataclasses.replace(track.generation, sampler=sampler, n_samples=20, steps=2, batch_size=20,
                                  options=options)
        result = benchbed.evaluate(model, track=track.replace(generation=gen), n_examples=10, device="cpu",
                                   metrics=["generative"], progress=False, threads=1, name=f"m-{sampler}")
        records[sampler] = result.record.metric_info["generative"]
    jem, sgld = records["jem-sgld-conditional"], records["sgld"]
    assert "seed_kind" not in jem["settings"] and "step_size" not in jem["settings"]
    assert jem["settings"]["options"] == {"steps": 2, "passes": 1} and jem["settings"]["n_samples"] == 20
    assert jem["protocol"]["seed_kind"].startswith("uniform")  # what jem-sgld itself reports
    assert sgld["settings"]["seed_kind"] == "pca" and sgld["settings"]["steps"] == 2
    assert sgld["protocol"]["seed_kind"] == "pca"
