"""Built-in executors: ``local`` (this process) and ``ray`` (a Ray cluster, optional extra)."""
from __future__ import annotations

from benchbed.contracts.hookspecs import hookimpl
from benchbed.contracts.specs import ExecutorSpec


def _local(**options):
    from benchbed.engine.executors.local import LocalExecutor

    return LocalExecutor(**options)


def _ray(**options):
    from benchbed.engine.executors.ray_executor import RayExecutor

    return RayExecutor(**options)


@hookimpl
def register_executors(register):
    register(ExecutorSpec(name="local", make=_local,
                          description="units on this machine: side by side in worker processes on the CPU "
                                      "(--workers), one after another on a GPU"))
    register(ExecutorSpec(name="ray", make=_ray,
                          description="units as Ray tasks, one GPU each where the cluster has GPUs "
                                      "(pip install 'benchbed[ray]')"))
