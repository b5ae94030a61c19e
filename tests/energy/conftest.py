"""Fixtures of the energy-lens tests: digits points, a standard-trained digits model, a context."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from benchbed.builtin.dataset_loaders import load_digits_split
from benchbed.contracts.specs import ModelSpec, TrackSpec

ZOO_STANDARD = "digits-cnn-standard"


@pytest.fixture(scope="package", autouse=True)
def one_torch_thread():
    """APGD on tiny models is dominated by per-step overhead; on a shared 2-core machine, torch's
    intra-op threads contend and make it many times slower. Restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def digits_test():
    return load_digits_split("test")


@pytest.fixture(scope="session")
def standard_digits_model(tiny_digits_mlp):
    """The digits zoo's standard CNN when its checkpoint is installed, else the suite's tiny MLP.

    Both are trained with plain cross-entropy (no defence). Returns (name, model).
    """
    try:
        from benchbed import registry as plugin_registry
        spec = (lambda r: r.models.get(ZOO_STANDARD) if ZOO_STANDARD in r.models else None)(plugin_registry.registry())
        if spec is not None:
            return ZOO_STANDARD, spec.load("cpu")
    except Exception:  # the zoo is optional: fall back to the tiny model
        pass
    finally:
        from benchbed import registry as plugin_registry
        plugin_registry.reset()
    return "tiny-digits-mlp", tiny_digits_mlp


def _make_context(model, points, *, attack, eps=0.05, n=60, block_size=500,
                 options=None, metrics=("robust_accuracy", "energy")):
    """An EvaluationContext on the first ``n`` digits test points with a given AttackSpec."""
    from benchbed.builtin.datasets import register_datasets
    from benchbed.contracts.specs import LabelledImages
    from benchbed.engine.context import EvaluationContext

    datasets = []
    register_datasets(datasets.append)
    dataset = next(d for d in datasets if d.name == "digits")
    track = TrackSpec(name="energy-test", dataset="digits", norm="Linf", eps=eps, n_examples=n,
                      attack_options=options or {"version": "custom", "attacks": ["apgd-ce", "apgd-t"]},
                      metrics=metrics, batch_size=500, block_size=block_size, seed=0)
    spec = ModelSpec(name="energy-test-model", dataset="digits", threat_models=("Linf",),
                     architecture="test", recipe="standard", loader=lambda device: model)
    return EvaluationContext(model=model, model_spec=spec, track=track, dataset=dataset,
                             points=LabelledImages(points.images[:n], points.labels[:n]),
                             indices=np.arange(n), device=torch.device("cpu"), attack=attack)


@pytest.fixture(scope="session")
def make_context():
    return _make_context
