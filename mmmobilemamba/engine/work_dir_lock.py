"""One training at a time in a work dir.

Two trainings writing the same ``work_dir`` interleave their checkpoints and
``last_checkpoint``, and a resume continues one of them at random.
:class:`WorkDirLock` holds an exclusive ``flock`` on
``<work_dir>/training.lock`` while a training runs. The kernel drops the lock
when its process dies, so a file left by a killed training (``kill -9``)
never blocks the next start or ``--resume``.
"""
import fcntl
import os
import os.path as osp
from typing import Optional


class WorkDirLock:
    """An exclusive lock on ``work_dir`` (see the module's docstring)."""

    FILENAME = 'training.lock'

    def __init__(self, work_dir: str):
        self.work_dir = work_dir
        self.path = osp.join(work_dir, self.FILENAME)
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        """Take the lock, or raise ``RuntimeError`` naming the training
        (its pid) that holds it."""
        if self._fd is not None:
            return
        os.makedirs(self.work_dir, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors='replace').strip()
            os.close(fd)
            raise RuntimeError(
                f'another training (pid {holder or "unknown"}) is running in '
                f'{self.work_dir} (it holds {self.path}): wait until it ends '
                'or train in another work dir (--work-dir)') from None
        os.ftruncate(fd, 0)
        os.write(fd, f'{os.getpid()}\n'.encode())
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (the file stays: removing it could let two
        trainings starting at once both take a lock)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __del__(self):
        self.release()
