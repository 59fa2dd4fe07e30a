"""Activation checkpointing whose recomputation leaves buffers alone."""
import contextlib
from typing import Callable, Iterator

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from torch import Tensor


@contextlib.contextmanager
def _buffers_restored(module: nn.Module) -> Iterator[None]:
    saved = [buffer.clone() for buffer in module.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in zip(module.buffers(), saved):
                buffer.copy_(value)


def checkpoint(module: nn.Module, function: Callable[..., Tensor],
               *args) -> Tensor:
    """``function(*args)`` under :func:`torch.utils.checkpoint.checkpoint`
    (non-reentrant), with ``module``'s buffers put back as the forward left
    them once backward has recomputed it: BN running statistics (and
    ``num_batches_tracked``) are updated once per step, as without
    checkpointing, not twice."""

    def contexts():  # (forward's, recomputation's)
        return contextlib.nullcontext(), _buffers_restored(module)

    return cp.checkpoint(
        function, *args, use_reentrant=False, context_fn=contexts)
