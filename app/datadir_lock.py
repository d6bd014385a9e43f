"""One service per data directory: `serve` holds an exclusive lock on DATA_DIR for its
whole life, taken before anything reads or writes the directory.

A second `serve` on the same DATA_DIR would run the start-up recovery over the first
one's live jobs (marking them gone) and share its SQLite file behind its cache. The lock
is `flock` on DATA_DIR/queue-manager.lock, which records the holder's PID: the kernel
drops it when the holder dies however it dies, so a killed service never blocks a
restart. The file descriptor is not inherited by children (jobs, the broker).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_FILE = "queue-manager.lock"


class DataDirInUse(Exception):
    """Another process holds the lock, or the directory cannot be locked at all."""


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir.resolve() / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock and record our PID; DataDirInUse names the holder otherwise."""
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise DataDirInUse(f"cannot lock DATA_DIR {directory}: {error.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise DataDirInUse(
                f"DATA_DIR {directory} is in use by another queue-manager ({holder}); "
                "stop it first, or give this one its own DATA_DIR"
            ) from None
        _record_pid(fd)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing drops the lock; the file stays (unlinking would race)


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(os.pread(fd, 32, 0).decode().strip())
        return f"PID {pid}"
    return "PID unknown"


def _record_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
