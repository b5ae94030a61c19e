"""Executors: where units run. ``local`` runs them one after another in this process; ``ray`` ships
them to a Ray cluster (``pip install 'benchbed[ray]'``). Both hand results back to the scheduler,
which alone writes the results store. More executors can come from plugins (``register_executors``)."""
from __future__ import annotations

from benchbed.engine.executors.base import Done, Executor, Failed, LocalExecutor, Reporter, run_task

__all__ = ["Done", "Executor", "Failed", "LocalExecutor", "Reporter", "run_task"]
