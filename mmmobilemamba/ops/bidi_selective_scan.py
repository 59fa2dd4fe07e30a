"""The complete d_state=1 bidirectional selective scan of MobileMamba's SS2D.

Cross-scan, per-direction projections, selective scan and cross-merge as one
op, so that a backend can fuse all of it (no materialised reversed copy).
"""
import torch
from torch import Tensor

from .backends import dispatch, register_op
from .cross_scan import cross_merge_bidi, cross_scan_bidi
from .selective_scan import selective_scan


def bidi_selective_scan(x: Tensor, x_proj_weight: Tensor,
                        dt_projs_weight: Tensor, dt_projs_bias: Tensor,
                        A_logs: Tensor, Ds: Tensor) -> Tensor:
    """Bidirectional selective scan of a feature map.

    Direction ``k`` (0: row-major flattened map, 1: its reverse) projects each
    step ``s`` (Di values) to ``x_proj_weight[k] @ s`` = [dt (R) | B | C],
    takes ``delta = softplus(dt_projs_weight[k] @ dt + dt_projs_bias[k])``,
    ``A = -exp(A_logs)`` and ``D = Ds`` for its channels, and scans; the two
    outputs are merged back into map order and added.

    Args:
        x (Tensor): Scan input, shape (B, Di, H, W).
        x_proj_weight (Tensor): Shape (2, R + 2, Di).
        dt_projs_weight (Tensor): Shape (2, Di, R).
        dt_projs_bias (Tensor): Shape (2, Di).
        A_logs (Tensor): Shape (2 * Di, 1).
        Ds (Tensor): Shape (2 * Di,).

    Returns:
        Tensor: Shape (B, Di, H * W), float32 (float64 for float64 inputs).
    """
    return dispatch('bidi_selective_scan',
                    x.device)(x, x_proj_weight, dt_projs_weight, dt_projs_bias,
                              A_logs, Ds)


@register_op('bidi_selective_scan', 'torch')
def bidi_selective_scan_torch(x: Tensor, x_proj_weight: Tensor,
                              dt_projs_weight: Tensor, dt_projs_bias: Tensor,
                              A_logs: Tensor, Ds: Tensor) -> Tensor:
    batch, channels = x.shape[:2]
    rank = dt_projs_weight.shape[-1]
    xs = cross_scan_bidi(x)  # (B, 2, Di, L)
    proj = torch.einsum('bkdl,kcd->bkcl', xs, x_proj_weight)
    dts, Bs, Cs = torch.split(proj, [rank, 1, 1], dim=2)
    dts = torch.einsum('bkrl,kdr->bkdl', dts, dt_projs_weight)
    ys = selective_scan(
        xs.reshape(batch, 2 * channels, -1),
        dts.reshape(batch, 2 * channels, -1),
        -torch.exp(A_logs),
        Bs,
        Cs,
        Ds,
        dt_projs_bias.reshape(-1),
        delta_softplus=True)
    return cross_merge_bidi(ys.view(batch, 2, channels, -1))
