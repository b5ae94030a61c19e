"""Executors: where units run. ``local`` runs them one after another in this process; ``ray`` ships
them to a Ray cluster (``pip install 'benchbed[ray]'``). Both hand results back to the runner, which
alone writes the results store, so every executor writes through the same store and locks."""
from __future__ import annotations

from .base import Done, Executor, Failed, LocalExecutor, UnitTask, execute_task

EXECUTORS = ("local", "ray")


def make_executor(name: str = "local", **options) -> Executor:
    """An executor by name. Options: ``threads``; for ray also ``address`` and ``workers``."""
    from ..errors import ConfigError

    if name == "local":
        options.pop("address", None)
        options.pop("workers", None)
        return LocalExecutor(**options)
    if name == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(**options)
    raise ConfigError(f"unknown executor {name!r}: use one of {EXECUTORS}")


__all__ = ["EXECUTORS", "Done", "Executor", "Failed", "LocalExecutor", "UnitTask", "execute_task", "make_executor"]
