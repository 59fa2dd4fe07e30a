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

    Everything that does not depend on the previous state is computed for
    all steps at once; the loop over ``L`` is one fused multiply-add per step
    on a (Bt, K*Dk, N) state, so memory stays O(Bt * K*Dk * L * N).
    """
    batch, channels, length = u.shape
    groups, n_state = B.shape[1], A.shape[1]
    if channels % groups:
        raise ValueError(f'the {channels} channels of u cannot be split '
                         f'into the {groups} groups of B and C')
    dtype = torch.promote_types(u.dtype, torch.float32)
    u, delta, A, B, C = (t.to(dtype) for t in (u, delta, A, B, C))
    if delta_bias is not None:
        delta = delta + delta_bias.to(dtype)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    per_group = channels // groups

    def per_channel(bc: Tensor) -> Tensor:  # (Bt,K,N,L) -> (L,Bt,K*Dk,N)
        bc = bc.permute(3, 0, 1, 2).unsqueeze(3)
        return bc.expand(length, batch, groups, per_group,
                         n_state).reshape(length, batch, channels, n_state)

    delta_t = delta.permute(2, 0, 1).unsqueeze(-1)  # (L, Bt, KD, 1)
    decay = torch.exp(delta_t * A)  # (L, Bt, KD, N)
    drive = (delta_t * u.permute(2, 0, 1).unsqueeze(-1)) * per_channel(B)
    h = drive.new_zeros(batch, channels, n_state)
    states = []
    for t in range(length):
        h = torch.addcmul(drive[t], decay[t], h)
        states.append(h)
    y = (torch.stack(states) * per_channel(C)).sum(-1)  # (L, Bt, KD)
    y = y.permute(1, 2, 0)
    if D is not None:
        y = y + D.to(dtype)[:, None] * u
    return y
