"""Selective scan (the S6 recurrence of Mamba) with grouped ``B``/``C``.

For every batch item ``b``, channel ``d`` (in group ``k = d // (KD / K)``)
and state index ``n``::

    delta[t] = softplus(delta[t] + delta_bias[d])       (if delta_softplus)
    h[t, n]  = exp(delta[t] * A[d, n]) * h[t-1, n]
               + delta[t] * B[k, n, t] * u[t]           with h[-1] = 0
    y[t]     = sum_n C[k, n, t] * h[t, n] + D[d] * u[t]

MobileMamba uses ``N = 1`` (d_state 1) and ``K = 2`` groups, one per scan
direction.
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .backends import dispatch, register_op


def selective_scan(u: Tensor,
                   delta: Tensor,
                   A: Tensor,
                   B: Tensor,
                   C: Tensor,
                   D: Optional[Tensor] = None,
                   delta_bias: Optional[Tensor] = None,
                   delta_softplus: bool = True) -> Tensor:
    """Run the selective scan.

    Args:
        u (Tensor): Input sequences, shape (Bt, K*Dk, L).
        delta (Tensor): Step sizes before bias/softplus, shape (Bt, K*Dk, L).
        A (Tensor): State matrix (negative for a stable scan), (K*Dk, N).
        B (Tensor): Input projections, shape (Bt, K, N, L).
        C (Tensor): Output projections, shape (Bt, K, N, L).
        D (Tensor, optional): Skip weights, shape (K*Dk,).
        delta_bias (Tensor, optional): Added to ``delta``, shape (K*Dk,).
        delta_softplus (bool): Apply softplus to ``delta``.

    Returns:
        Tensor: ``y`` of shape (Bt, K*Dk, L), computed and returned in float32
        (float64 for float64 inputs).
    """
    return dispatch('selective_scan', u.device)(u, delta, A, B, C, D,
                                                delta_bias, delta_softplus)


#: Sequences up to this length are scanned step by step; longer ones in
#: chunks, where the fewer steps outweigh the extra passes of the carry.
MAX_UNCHUNKED_LENGTH = 64
#: The same for :func:`linear_recurrence_`, whose carry costs two passes.
MAX_UNCHUNKED_LENGTH_INPLACE = 8


@register_op('selective_scan', 'torch')
def selective_scan_torch(u: Tensor,
                         delta: Tensor,
                         A: Tensor,
                         B: Tensor,
                         C: Tensor,
                         D: Optional[Tensor] = None,
                         delta_bias: Optional[Tensor] = None,
                         delta_softplus: bool = True) -> Tensor:
    """Pure-PyTorch selective scan (:func:`linear_recurrence` over the
    sequence); gradients come from autograd."""
    batch, channels, length = u.shape
    groups, n_state = B.shape[1], A.shape[1]
    if channels % groups:
        raise ValueError(f'the {channels} channels of u cannot be split '
                         f'into the {groups} groups of B and C')
    per_group = channels // groups
    dtype = torch.promote_types(u.dtype, torch.float32)
    u, delta, A, B, C = (t.to(dtype) for t in (u, delta, A, B, C))
    if delta_bias is not None:
        delta = delta + delta_bias.to(dtype)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)

    def sequence_major(x: Tensor) -> Tensor:
        """(Bt, K*Dk, L) -> (Bt, L, K, Dk, 1)."""
        return x.view(batch, groups, per_group, length).permute(0, 3, 1,
                                                                2)[..., None]

    delta = sequence_major(delta)
    # (Bt, K, N, L) -> (Bt, L, K, 1, N): B and C broadcast over Dk.
    B, C = (t.permute(0, 3, 1, 2)[:, :, :, None] for t in (B, C))
    h = linear_recurrence(delta * A.view(groups, per_group, n_state),
                          delta * sequence_major(u) * B)
    y = h * C
    y = y.sum(-1) if n_state > 1 else y.squeeze(-1)  # (Bt, L, K, Dk)
    y = y.reshape(batch, length, channels).transpose(1, 2)
    if D is not None:
        y = torch.addcmul(y, D.to(dtype)[:, None], u)
    return y


def chunk_steps(length: int, max_unchunked: int = MAX_UNCHUNKED_LENGTH) -> int:
    """Steps ``T`` per chunk of a recurrence over ``length`` steps: all of
    them up to ``max_unchunked``, ``ceil(sqrt(length))`` beyond."""
    if length > max_unchunked:
        return math.isqrt(length - 1) + 1
    return length


def linear_recurrence(log_decay: Tensor, drive: Tensor) -> Tensor:
    """``h[:, t] = exp(log_decay[:, t]) * h[:, t-1] + drive[:, t]`` along
    dim 1, with ``h[:, -1] = 0``.

    Both inputs are (B, L, ...) of one shape; so is the result. Each step is
    one multiply-add over dims 2..; a sequence longer than
    :data:`MAX_UNCHUNKED_LENGTH` is cut into ``nc`` chunks of
    ``T = ceil(sqrt(L))`` steps, all scanned at once from a zero state
    (``T`` steps instead of ``L``); the state carried into each chunk then
    follows from a recurrence over the ``nc`` chunk ends and reaches step
    ``t`` of the chunk decayed by ``exp(cumsum(log_decay))`` over the chunk
    so far. Exponents are <= 0 for a stable scan and clamped at the smallest
    normal number's log (``exp`` of less is slow on CPU and numerically ~0).
    """
    shape = drive.shape
    batch, length = shape[:2]
    floor = math.log(torch.finfo(drive.dtype).tiny)
    steps = chunk_steps(length)
    # Sizes are traced (ONNX export): no floor division of negative numbers,
    # which ONNX's Div truncates.
    chunks = (length + steps - 1) // steps
    pad = chunks * steps - length

    def chunked(x: Tensor) -> Tensor:
        """(B, L, ...) -> (B, nc, T, G): step t of every chunk is [:, :, t]."""
        x = x.reshape(batch, length, -1)
        x = F.pad(x, (0, 0, 0, pad)) if pad else x
        return x.view(batch, chunks, steps, -1)

    log_decay, drive = chunked(log_decay), chunked(drive)
    decay = log_decay.clamp(min=floor).exp_()
    # h[-1] = 0, written out so that the decay stays in the autograd graph
    # even for L = 1 (its gradient is then 0, but DDP requires every
    # parameter used).
    h = torch.addcmul(drive[:, :, 0], decay[:, :, 0],
                      torch.zeros_like(drive[:, :, 0]))
    states = [h]
    for t in range(1, steps):
        h = torch.addcmul(drive[:, :, t], decay[:, :, t], h)
        states.append(h)
    h = torch.stack(states, 2)  # (B, nc, T, G)
    if chunks > 1:
        decayed = log_decay.cumsum(2).clamp_(min=floor).exp_()
        ends, totals = h[:, :, -1], decayed[:, :, -1]
        carried = [torch.zeros_like(ends[:, 0])]
        for c in range(chunks - 1):
            carried.append(
                torch.addcmul(ends[:, c], totals[:, c], carried[-1]))
        h = h.addcmul_(decayed, torch.stack(carried, 1)[:, :, None])
    h = h.view(batch, chunks * steps, -1)
    return h[:, :length].view(shape)


def linear_recurrence_(decay: Tensor, drive: Tensor) -> Tensor:
    """In-place :func:`linear_recurrence` for inference, given the decay
    itself (not its log): ``drive[:, c, t]`` becomes the state at step
    ``t`` of chunk ``c``; ``decay`` is overwritten.

    Both inputs are contiguous (B, nc, T, G), ``nc`` chunks of ``T`` steps
    (see :func:`chunk_steps`). Every chunk is scanned from a zero state
    (``T - 1`` multiply-adds); the true chunk ends then follow chunk by
    chunk, and reach the other steps through the running products of the
    decay (a ``cumprod``). Nothing is allocated, so no pass over the
    sequence touches fresh memory; autograd cannot go through it.
    """
    states, decays = drive.unbind(2), decay.unbind(2)
    # The zero state before each chunk's first step, decayed as the
    # reference does: a NaN or Inf decay there makes the state NaN.
    states[0].addcmul_(decays[0], torch.zeros_like(states[0]))
    for t in range(1, len(states)):
        states[t].addcmul_(decays[t], states[t - 1])
    chunks = drive.shape[1]
    if chunks > 1:
        decay.cumprod_(2)
        ends, totals = states[-1].unbind(1), decay[:, :, -1].unbind(1)
        for c in range(1, chunks):
            ends[c].addcmul_(totals[c], ends[c - 1])
        drive[:, 1:, :-1].addcmul_(decay[:, 1:, :-1], drive[:, :-1, -1:])
    return drive
