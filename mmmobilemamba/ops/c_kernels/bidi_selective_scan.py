"""C kernel of :func:`~mmmobilemamba.ops.bidi_selective_scan` for CPU
inference."""
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor

from ..backends import register_op
from ..bidi_selective_scan import bidi_selective_scan_torch
from . import PRIORITY
from .library import available, load_library

#: Below this many (batch, position, channel) elements one thread scans all.
MIN_PARALLEL_SIZE = 1 << 14
_POOL = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    if workers not in _POOL:
        _POOL[workers] = ThreadPoolExecutor(
            workers, thread_name_prefix='mmmobilemamba-scan')
    return _POOL[workers]


def _partition(batch: int, channels: int, workers: int) -> list:
    """(b_start, b_stop, c_start, c_stop) of each worker: whole batch items
    where there are enough, else channel ranges of whole 8-float vectors."""
    if batch >= workers:
        step = -(-batch // workers)
        return [(b, min(batch, b + step), 0, channels)
                for b in range(0, batch, step)]
    step = (-(-channels // workers) + 7) // 8 * 8
    return [(0, batch, c, min(channels, c + step))
            for c in range(0, channels, step)]


@register_op(
    'bidi_selective_scan',
    'c',
    priority=PRIORITY,
    devices=('cpu', ),
    available=available)
def bidi_selective_scan_c(x: Tensor, x_proj_weight: Tensor,
                          dt_projs_weight: Tensor, dt_projs_bias: Tensor,
                          A_logs: Tensor, Ds: Tensor) -> Tensor:
    """One pass over the map per direction: step projection, softplus,
    decay and recurrence fused, the directions summed in place. Runs on
    ``torch.get_num_threads()`` threads (batch items, or channel ranges of
    a small batch). Autograd, traces and float64 take
    :func:`~mmmobilemamba.ops.bidi_selective_scan.bidi_selective_scan_torch`.
    """
    args = (x, x_proj_weight, dt_projs_weight, dt_projs_bias, A_logs, Ds)
    if torch.jit.is_tracing() or x.dtype != torch.float32 or (
            torch.is_grad_enabled() and any(t.requires_grad for t in args)):
        return bidi_selective_scan_torch(*args)
    batch, channels = x.shape[:2]
    rank = dt_projs_weight.shape[-1]
    seq = x.flatten(2).transpose(1, 2).contiguous()  # (B, L, Di)
    length = seq.shape[1]
    f32 = dict(dtype=torch.float32)
    # [dt | B | C] of both directions at every position: (B, L, 2, R + 2).
    proj = torch.matmul(seq, x_proj_weight.to(**f32).flatten(0, 1).t())
    tensors = (seq, proj.contiguous(),
               dt_projs_weight.to(**f32).transpose(1, 2).contiguous(),
               dt_projs_bias.to(**f32).contiguous(),
               (-torch.exp(A_logs.to(**f32))).view(2, channels).contiguous(),
               Ds.to(**f32).view(2, channels).contiguous())
    out = torch.empty_like(seq)
    pointers = [t.data_ptr() for t in tensors + (out, )]
    scan = load_library().mmm_bidi_selective_scan_f32
    sizes = (batch, length, channels, rank)
    workers = torch.get_num_threads()
    if workers == 1 or out.numel() < MIN_PARALLEL_SIZE:
        scan(*pointers, *sizes, 0, batch, 0, channels)
    else:
        parts = _partition(batch, channels, workers)
        done = _pool(len(parts)).map(
            lambda part: scan(*pointers, *sizes, *part), parts)
        list(done)  # waits, and re-raises what a worker raised
    return out.transpose(1, 2)
