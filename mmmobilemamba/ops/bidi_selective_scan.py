"""The complete d_state=1 bidirectional selective scan of MobileMamba's SS2D.

Cross-scan, per-direction projections, selective scan and cross-merge as one
op, so that a backend can fuse all of it (no materialised reversed copy).
"""
import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .backends import dispatch, records_graph, register_op
from .selective_scan import (MAX_UNCHUNKED_LENGTH_INPLACE, chunk_steps,
                             linear_recurrence, linear_recurrence_)


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
    """Sequence-major (B, L, 2, Di) throughout, which is a channels-last
    map's memory order: the result is (B, Di, L) with the strides of a
    transposed (B, L, Di) tensor.

    Without autograd (and outside a trace) it runs in place on three
    buffers (:func:`_bidi_selective_scan_inplace`); otherwise as a graph
    of out-of-place ops that autograd and ONNX export follow.
    """
    args = (x, x_proj_weight, dt_projs_weight, dt_projs_bias, A_logs, Ds)
    if records_graph(*args):
        return _bidi_selective_scan_graph(*args)
    return _bidi_selective_scan_inplace(*args)


def _bidi_selective_scan_graph(x: Tensor, x_proj_weight: Tensor,
                               dt_projs_weight: Tensor, dt_projs_bias: Tensor,
                               A_logs: Tensor, Ds: Tensor) -> Tensor:
    batch, channels = x.shape[:2]
    rank = dt_projs_weight.shape[-1]
    dtype = torch.promote_types(x.dtype, torch.float32)
    seq = x.flatten(2).transpose(1, 2).to(dtype)  # (B, L, Di)
    length = seq.shape[1]
    # [dt | B | C] of both directions at every position, in map order.
    proj = torch.matmul(seq, x_proj_weight.to(dtype).flatten(0, 1).t())
    proj = proj.view(batch, length, 2, rank + 2)
    # Scan order: direction 1 runs over the reversed sequence.
    xs = torch.stack([seq, seq.flip(1)], dim=2)
    proj = torch.stack([proj[:, :, 0], proj[:, :, 1].flip(1)], dim=2)
    dts, Bs, Cs = torch.split(proj, [rank, 1, 1], dim=3)
    # Both directions' dt projections as one block-diagonal matmul.
    weight = dt_projs_weight.to(dtype)
    weight = torch.cat([
        F.pad(weight[0].t(), (0, channels)),
        F.pad(weight[1].t(), (channels, 0))
    ])
    delta = torch.addmm(
        dt_projs_bias.to(dtype).reshape(-1), dts.reshape(-1, 2 * rank), weight)
    delta = F.softplus(delta).view(batch, length, 2, channels)
    A = -torch.exp(A_logs.to(dtype)).view(2, channels)
    h = linear_recurrence(delta * A, delta * xs * Bs)
    ys = (xs * Ds.to(dtype).view(2, channels)).addcmul_(h, Cs)
    return (ys[:, :, 0] + ys[:, :, 1].flip(1)).transpose(1, 2)


def _bidi_selective_scan_inplace(x: Tensor, x_proj_weight: Tensor,
                                 dt_projs_weight: Tensor,
                                 dt_projs_bias: Tensor, A_logs: Tensor,
                                 Ds: Tensor) -> Tensor:
    """The same computation, direction-major, on three (2, B, nc * T, Di)
    buffers: the scan input ``xs`` (direction 1 reversed), ``delta``
    (overwritten by the decay) and the drive (overwritten by the states,
    then the outputs). The sequence is zero-padded to whole chunks (``nc``
    chunks of ``T`` steps, see
    :func:`~mmmobilemamba.ops.selective_scan.chunk_steps`); padded steps come
    after the last real one in scan order and have zero drive, so they
    change no output. Each direction's projections are one matmul of a
    batched pair."""
    batch, channels = x.shape[:2]
    rank = dt_projs_weight.shape[-1]
    dtype = torch.promote_types(x.dtype, torch.float32)
    seq = x.flatten(2).transpose(1, 2).to(dtype)  # (B, L, Di)
    length = seq.shape[1]
    steps = chunk_steps(length, MAX_UNCHUNKED_LENGTH_INPLACE)
    chunks = -(-length // steps)
    padded = chunks * steps
    xs = seq.new_empty(2, batch, padded, channels)
    xs[0, :, :length] = seq
    xs[1, :, :length] = seq.flip(1)
    if padded > length:
        xs[:, :, length:] = 0
    xs = xs.view(2, batch * padded, channels)
    proj = torch.bmm(xs, x_proj_weight.to(dtype).transpose(1, 2))
    dts, Bs, Cs = torch.split(proj, [rank, 1, 1], dim=2)
    delta = torch.baddbmm(
        dt_projs_bias.to(dtype).unsqueeze(1), dts,
        dt_projs_weight.to(dtype).transpose(1, 2))
    torch.ops.aten.softplus.out(delta, 1, 20, out=delta)
    drive = torch.mul(delta, Bs).mul_(xs)
    A = -torch.exp(A_logs.to(dtype)).view(2, 1, channels)
    floor = math.log(torch.finfo(dtype).tiny)
    decay = delta.mul_(A).clamp_(min=floor).exp_()
    h = linear_recurrence_(
        decay.view(2 * batch, chunks, steps, channels),
        drive.view(2 * batch, chunks, steps, channels))
    ys = h.view_as(xs).mul_(Cs).addcmul_(xs, Ds.to(dtype).view(2, 1, channels))
    ys = ys.view(2, batch, padded, channels)[:, :, :length]
    return torch.add(ys[0], ys[1].flip(1)).transpose(1, 2)
