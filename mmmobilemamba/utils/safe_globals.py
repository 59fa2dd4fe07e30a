"""Globals that mmengine Runner checkpoints need under safe loading.

``torch.load`` defaults to ``weights_only=True`` since torch 2.6. Besides
tensors, a Runner checkpoint (``epoch_*.pth``) pickles the message hub: its
:class:`~mmengine.logging.HistoryBuffer` objects hold numpy arrays and
scalars, and their statistics methods, which pickle as
``getattr(HistoryBuffer, 'mean')``. Resuming or testing such a checkpoint
needs these globals allow-listed; safe loading stays on for everything else
(found with ``torch.serialization.get_unsafe_globals_in_checkpoint``).
``builtins.getattr`` is replaced by :func:`history_buffer_attr`, which only
reads public attributes of ``HistoryBuffer``.
"""
import pickle
from contextlib import contextmanager

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

try:
    from numpy._core import multiarray
except ImportError:  # numpy < 1.26
    from numpy.core import multiarray


def history_buffer_attr(owner, name):
    """``getattr`` restricted to public attributes of ``HistoryBuffer``."""
    if owner is not HistoryBuffer or name.startswith('_'):
        raise pickle.UnpicklingError(
            f'getattr({owner!r}, {name!r}) is not allowed in a checkpoint')
    return getattr(owner, name)


CHECKPOINT_SAFE_GLOBALS = [
    HistoryBuffer,
    (history_buffer_attr, 'builtins.getattr'),
    np.ndarray,
    np.dtype,
    # The buffers' arrays: float64 values (Python floats), int64 counts.
    type(np.dtype(np.float64)),
    type(np.dtype(np.int64)),
] + [(getattr(multiarray, name), f'{module}.{name}')
     for module in ('numpy.core.multiarray', 'numpy._core.multiarray')
     for name in ('_reconstruct', 'scalar')]


def register_checkpoint_safe_globals() -> None:
    """Allow-list :data:`CHECKPOINT_SAFE_GLOBALS` for ``torch.load``."""
    torch.serialization.add_safe_globals(CHECKPOINT_SAFE_GLOBALS)


@contextmanager
def checkpoint_safe_globals():
    """Allow-list :data:`CHECKPOINT_SAFE_GLOBALS` inside the block, leaving
    the registry as it was: torch's ``safe_globals`` context removes on exit
    all it was given, also those registered before it (the package's own,
    added at import)."""
    registered = torch.serialization.get_safe_globals()
    missing = [g for g in CHECKPOINT_SAFE_GLOBALS if g not in registered]
    with torch.serialization.safe_globals(missing):
        yield
