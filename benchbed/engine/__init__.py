"""The engine: resolving a run, planning its units, claiming, scheduling them on an executor, and evaluating one
unit (the worker side: :mod:`benchbed.engine.evaluation`, which imports nothing above it)."""
