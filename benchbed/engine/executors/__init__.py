"""Executors: where units run. ``local`` runs them on this machine (side by side in worker processes on the
CPU, one after another on a GPU); ``ray`` ships them to a Ray cluster (``pip install 'benchbed[ray]'``).
Both hand results back to the scheduler, which alone writes the results store. More executors can come
from plugins (``register_executors``)."""
from __future__ import annotations

from benchbed.engine.executors.base import Done, Executor, Failed, Reporter, run_task
from benchbed.engine.executors.local import LocalExecutor

__all__ = ["Done", "Executor", "Failed", "LocalExecutor", "Reporter", "run_task"]
