"""Per-unit exclusive locks for a results folder shared by several runs.

A unit (model, track, shard) is computed by at most one run at a time: the run holds an exclusive
lock on ``<unit>.lock`` while it computes and writes that unit. Two runs started on the same
results folder therefore never compute (or write) the same unit at once; the second one defers the
unit, does other work, and later finds it finished.

On POSIX the lock is an advisory ``fcntl.flock`` lock. The kernel drops it when the holding process
dies, SIGKILL included, so a killed run never leaves a lock that blocks the next one; there is no
stale-lock guessing. The lock file carries the holder's pid, host and run id, for messages only.
Where ``fcntl`` does not exist (Windows), an exclusively created file (``O_CREAT | O_EXCL``) is the
lock, and a lock file whose process is gone from this host is treated as stale and broken.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

HOST = socket.gethostname()


def _holder_info(run_id: str | None) -> bytes:
    return json.dumps({"pid": os.getpid(), "host": HOST, "run_id": run_id,
                       "since": time.strftime("%Y-%m-%dT%H:%M:%S")}).encode()


def read_holder(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return {}


def describe_holder(path: Path) -> str:
    info = read_holder(path)
    if not info:
        return "another run"
    who = f"pid {info.get('pid')} on {info.get('host')}"
    return f"another run ({who}, since {info.get('since')})"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # pragma: no cover
        return False
    return True


class UnitLock:
    """An exclusive, non-reentrant lock on one path. ``acquire(blocking=False)`` returns a bool."""

    def __init__(self, path: str | os.PathLike, run_id: str | None = None):
        self.path = Path(path)
        self.run_id = run_id
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, blocking: bool = False, poll_s: float = 0.2, on_wait=None) -> bool:
        if self._fd is not None:
            raise RuntimeError(f"lock {self.path} is already held by this object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        announced = False
        while True:
            if self._try_acquire():
                return True
            if not blocking:
                return False
            if on_wait is not None and not announced:
                on_wait(describe_holder(self.path))
                announced = True
            time.sleep(poll_s)

    def _try_acquire(self) -> bool:
        if fcntl is None:  # pragma: no cover - Windows
            return self._try_acquire_exclusive_create()
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            except BaseException:
                os.close(fd)
                raise
            # The holder before us may have unlinked the file after we opened it: then we locked
            # an orphan inode while someone else may lock the new file. Only the live path counts.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, _holder_info(self.run_id))
                self._fd = fd
                return True
            os.close(fd)
        return False

    def _try_acquire_exclusive_create(self) -> bool:  # pragma: no cover - Windows
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            info = read_holder(self.path)
            if info.get("host") == HOST and isinstance(info.get("pid"), int) and not _pid_alive(info["pid"]):
                try:  # stale: its process is gone; break it (a racing breaker just fails to create)
                    self.path.unlink()
                except FileNotFoundError:
                    pass
            return False
        os.write(fd, _holder_info(self.run_id))
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            # Unlink while still holding the lock, so nobody can lock this path's old inode and
            # believe it holds the unit (the inode check in _try_acquire catches late openers).
            self.path.unlink(missing_ok=True)
        finally:
            os.close(fd)

    def __enter__(self) -> UnitLock:
        self.acquire(blocking=True)
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self):  # pragma: no cover - best effort
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
