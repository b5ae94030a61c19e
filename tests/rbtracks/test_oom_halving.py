"""Out of memory: the batch halves, the unit restarts, and the numbers are a small-batch run's."""
import numpy as np
import pytest
import torch

import benchbed
from benchbed.contracts.errors import BenchbedError
from benchbed.contracts.specs import TrackSpec
from benchbed.engine.batching import is_out_of_memory, run_halving
from benchbed.registry import PluginHost


class OutOfMemoryAbove(torch.nn.Module):
    """``inner``, except that batches larger than ``limit`` raise torch's out-of-memory error."""

    def __init__(self, inner: torch.nn.Module, limit: int):
        super().__init__()
        self.inner, self.limit = inner, limit
        self.sizes: list[int] = []

    def forward(self, x):
        self.sizes.append(int(x.shape[0]))
        if x.shape[0] > self.limit:
            raise torch.OutOfMemoryError(f"CUDA out of memory (test: batch {x.shape[0]} > {self.limit})")
        return self.inner(x)


def track(batch_size: int) -> TrackSpec:
    return TrackSpec(name="digits-oom", dataset="digits", norm="Linf", eps=0.1, n_examples=12,
                     attack_options={"version": "custom", "attacks": ["apgd-ce"]},
                     metrics=("clean_accuracy", "robust_accuracy", "energy"), batch_size=batch_size, block_size=12)


@pytest.mark.slow
def test_halves_until_it_fits_and_matches_a_small_batch_run(tiny_digits_mlp):
    reg = PluginHost(load_external=False).registry
    flaky = OutOfMemoryAbove(tiny_digits_mlp, limit=3)
    halved = benchbed.evaluate(flaky, track=track(8), device="cpu", progress=False, name="mlp", registry=reg)
    small = benchbed.evaluate(tiny_digits_mlp, track=track(2), device="cpu", progress=False, name="mlp",
                              registry=reg)
    assert max(s for s in flaky.sizes if s <= 3) == 2 and 8 in flaky.sizes and 4 in flaky.sizes
    assert halved.record.track_info["batch_size"] == 8
    assert halved.record.track_info["batch_size_used"] == {"all": 2}
    assert "batch_size_used" not in small.record.track_info
    assert set(halved.arrays) == set(small.arrays)
    for name, array in small.arrays.items():
        np.testing.assert_array_equal(halved.arrays[name], array, err_msg=name)
    np.testing.assert_equal(halved.record.metrics, small.record.metrics)  # NaN (no targeted iterates) == NaN


def test_batch_of_one_out_of_memory_is_one_line():
    def never_fits(size):
        raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(BenchbedError, match="out of memory at batch size 1"):
        run_halving(never_fits, 4)
    tried = []
    assert run_halving(lambda size: tried.append(size) or (size if size <= 5 else never_fits(size)), 24) == (3, 3)
    assert tried == [24, 12, 6, 3]


def test_other_errors_are_not_retried():
    calls = []

    def broken(size):
        calls.append(size)
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        run_halving(broken, 8)
    assert calls == [8]
    wrapped = BenchbedError("attack failed")
    wrapped.__cause__ = torch.cuda.OutOfMemoryError("CUDA out of memory")
    assert is_out_of_memory(wrapped) and not is_out_of_memory(RuntimeError("CUDA error: out of bounds"))
