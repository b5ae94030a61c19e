"""A unit's thread count caps torch's threads and the BLAS threads numpy and scipy use, and both come back after."""
from __future__ import annotations

import torch
from threadpoolctl import threadpool_info, threadpool_limits

from benchbed.contracts.reductions import mean
from benchbed.contracts.specs import Column, MetricOutput, MetricSpec, TrackSpec
from benchbed.engine.runner import run_track
from benchbed.engine.threads import unit_threads


def blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_unit_threads_caps_torch_and_blas_and_restores_them():
    before_torch, before_blas = torch.get_num_threads(), blas_threads()
    with unit_threads(1):
        assert torch.get_num_threads() == 1
        assert blas_threads() == {1}
    assert torch.get_num_threads() == before_torch and blas_threads() == before_blas
    with unit_threads(None):  # no count given: nothing is touched
        assert torch.get_num_threads() == before_torch and blas_threads() == before_blas


def threads_seen() -> MetricSpec:
    """A metric that records, while the unit computes, the threads it may use."""
    def seen(ctx):
        n = len(ctx.clean_logits)
        return MetricOutput(arrays={"torch_threads": [float(torch.get_num_threads())] * n,
                                    "blas_threads": [float(max(blas_threads()))] * n})

    return MetricSpec(name="threads_seen", compute=seen, columns=(
        Column("torch_threads", "torch threads inside the unit", None, "threads", reduce=mean("torch_threads")),
        Column("blas_threads", "BLAS threads inside the unit", None, "threads", reduce=mean("blas_threads"))))


def test_a_unit_computes_at_its_thread_count_for_torch_and_blas(mlp_registry, tmp_path):
    registry = mlp_registry(threads_seen())
    track = TrackSpec(name="digits-threads", dataset="digits", norm="Linf", eps=0.1, n_examples=20,
                      metrics=("threads_seen",))
    with threadpool_limits(limits=2, user_api="blas"):  # two BLAS threads around the run, even on one CPU
        summary = run_track(track, ["mlp"], device="cpu", results_dir=tmp_path, registry=registry,
                            show_progress=False, threads=1)
        assert blas_threads() == {2}  # this process's pools are as they were
    record = summary.records[0]
    assert record.metrics["torch_threads"] == 1.0 and record.metrics["blas_threads"] == 1.0
