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


@register_op('selective_scan', 'torch')
def selective_scan_torch(u: Tensor,
                         delta: Tensor,
                         A: Tensor,
                         B: Tensor,
                         C: Tensor,
                         D: Optional[Tensor] = None,
                         delta_bias: Optional[Tensor] = None,
                         delta_softplus: bool = True) -> Tensor:
    """Pure-PyTorch selective scan; gradients come from autograd.

    The sequence is laid out step-major, so that each step is one
    multiply-add on contiguous memory. A sequence longer than
    :data:`MAX_UNCHUNKED_LENGTH` is cut into ``nc`` chunks of
    ``T = ceil(sqrt(L))`` steps, all scanned at once from a zero state
    (``T`` steps instead of ``L``); the state carried into each chunk then
    follows from a recurrence over the ``nc`` chunk ends and reaches step
    ``t`` of the chunk decayed by ``exp(cumsum(delta * A))`` over the chunk
    so far. Exponents are <= 0 for a negative ``A`` and clamped at the
    smallest normal number's log (``exp`` of less is slow on CPU and
    numerically ~0). Memory stays O(Bt * K*Dk * N * L).
    """
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
    floor = math.log(torch.finfo(dtype).tiny)
    steps = length
    if length > MAX_UNCHUNKED_LENGTH:
        steps = math.isqrt(length - 1) + 1
    # Sizes are traced (ONNX export): no floor division of negative numbers,
    # which ONNX's Div truncates.
    chunks = (length + steps - 1) // steps
    pad = chunks * steps - length

    def step_major(x: Tensor) -> Tensor:
        """(..., L) -> (T, ..., nc): step t of every chunk, contiguous."""
        x = F.pad(x, (0, pad)) if pad else x
        x = x.unflatten(-1, (chunks, steps))
        return x.permute(x.dim() - 1, *range(x.dim() - 1)).contiguous()

    # Shapes (T, Bt, K, Dk, N, nc); B and C broadcast over Dk.
    delta = step_major(delta).view(steps, batch, groups, per_group, 1, chunks)
    log_decay = delta * A.view(groups, per_group, n_state, 1)
    decay = log_decay.clamp(min=floor).exp()
    drive = delta * step_major(u).view_as(delta) * step_major(B).unsqueeze(3)
    # h[-1] = 0, written out so that A stays in the autograd graph even for
    # L = 1 (its gradient is then 0, but DDP requires every parameter used).
    h = torch.addcmul(drive[0], decay[0], torch.zeros_like(drive[0]))
    states = [h]
    for t in range(1, steps):
        h = torch.addcmul(drive[t], decay[t], h)
        states.append(h)
    h = torch.stack(states)
    if chunks > 1:
        decayed = log_decay.cumsum(0).clamp(min=floor).exp()
        ends, totals = h[-1], decayed[-1]
        carried = [torch.zeros_like(ends[..., 0])]
        for c in range(chunks - 1):
            carried.append(
                torch.addcmul(ends[..., c], totals[..., c], carried[-1]))
        h = torch.addcmul(h, decayed, torch.stack(carried, -1))
    y = h * step_major(C).unsqueeze(3)
    y = y.sum(4) if n_state > 1 else y.select(4, 0)  # (T, Bt, K, Dk, nc)
    y = y.permute(1, 2, 3, 4, 0).reshape(batch, channels, chunks * steps)
    if pad:
        y = y[..., :length]
    if D is not None:
        y = torch.addcmul(y, D.to(dtype)[:, None], u)
    return y
