"""Local files that are either complete or absent.

mmengine's ``LocalBackend.put`` opens the target with ``'wb'``: a process
killed while it writes (or a full disk) leaves a truncated checkpoint under
its final name. :class:`AtomicLocalBackend` writes a temporary file in the
same folder, flushes it to disk and renames it onto the target, so a reader
sees the previous file or the new one, never a part of one. Checkpoint hooks
select it with ``backend_args=dict(backend='mmmobilemamba_atomic_local')``.
"""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

ATOMIC_LOCAL_BACKEND = 'mmmobilemamba_atomic_local'


def write_atomic(filepath: Union[str, Path], data: Union[bytes, str]) -> None:
    """Write ``data`` to ``filepath`` through a temporary file in its folder,
    ``fsync`` and ``os.replace``; on any error the temporary file is removed
    and ``filepath`` is left as it was."""
    filepath = osp.abspath(filepath)
    folder = osp.dirname(filepath)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode('utf-8')
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{osp.basename(filepath)}.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.lexists(tmp):
            os.remove(tmp)
        raise
    # Make the rename itself durable.
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicLocalBackend(LocalBackend):
    """:class:`~mmengine.fileio.LocalBackend` whose writes are atomic
    (:func:`write_atomic`)."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        write_atomic(filepath, obj)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        write_atomic(filepath, obj.encode(encoding))


register_backend(ATOMIC_LOCAL_BACKEND, AtomicLocalBackend, force=True)
