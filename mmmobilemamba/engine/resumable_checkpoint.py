"""The checkpoint a ``resume=True`` training without a path continues from.

mmengine resumes from whatever ``<work_dir>/last_checkpoint`` names: an empty
file makes it resume from ``''``, a deleted or truncated target fails the
start, and a work dir without the file logs "Auto resumed from the latest
checkpoint None" and trains from scratch. :func:`find_resumable_checkpoint`
checks the named file and otherwise falls back to the newest readable
checkpoint, saying why.
"""
import glob
import os.path as osp
from typing import Optional, Tuple

import torch

from mmmobilemamba.utils.safe_globals import checkpoint_safe_globals


def checkpoint_error(path: str) -> Optional[str]:
    """Why the Runner checkpoint ``path`` cannot be resumed (``None`` when
    it is a complete one: loads with ``weights_only=True`` and holds
    ``meta`` and ``state_dict``)."""
    if not osp.isfile(path):
        return 'does not exist'
    try:
        with checkpoint_safe_globals():
            checkpoint = torch.load(
                path, map_location='cpu', weights_only=True, mmap=True)
    except Exception as error:  # noqa: B902 (any unreadable file)
        return f'cannot be read (truncated or corrupt: {error})'
    if not isinstance(checkpoint, dict) or not {'meta', 'state_dict'
                                                } <= checkpoint.keys():
        return 'is not a training checkpoint (no meta and state_dict)'
    return None


def find_resumable_checkpoint(
        work_dir: str) -> Tuple[Optional[str], Optional[str]]:
    """The checkpoint to resume in ``work_dir`` and a warning.

    Returns:
        tuple: The path named by ``last_checkpoint`` when it is complete
        (no warning); else the newest readable ``*.pth`` (``best_*`` ones
        excepted: they lack the optimizer) in ``work_dir`` and the named
        file's folder, with a warning saying what was wrong; else ``None``
        (the warning, if any, says what was wrong).
    """
    record = osp.join(work_dir, 'last_checkpoint')
    named, problem = None, None
    if osp.isfile(record):
        with open(record) as f:
            named = f.read().strip()
        if not named:
            problem = f'{record} is empty'
        else:
            error = checkpoint_error(named)
            if error is None:
                return named, None
            problem = f'{record} names {named}, which {error}'
    folders = {osp.abspath(work_dir)}
    if named:
        folders.add(osp.abspath(osp.dirname(named)))
    candidates = [
        path for folder in folders
        for path in glob.glob(osp.join(folder, '*.pth'))
        if not osp.basename(path).startswith('best_')
        and osp.abspath(path) != osp.abspath(named or '')
    ]
    for path in sorted(candidates, key=osp.getmtime, reverse=True):
        if checkpoint_error(path) is None:
            if problem is None:
                problem = f'{record} is missing'
            return path, (f'{problem}; resuming from the newest readable '
                          f'checkpoint {path} instead')
    if problem is not None:
        problem += f' and no other checkpoint in {work_dir} can be read'
    return None, problem
