"""C kernel of :func:`~mmmobilemamba.ops.bidi_selective_scan` for CPU
inference."""
import torch
from torch import Tensor

from ..backends import records_graph, register_op
from ..bidi_selective_scan import bidi_selective_scan_torch
from .library import PRIORITY, available, load_library
from .parallel import channel_chunk, num_threads


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
    a small batch; see :mod:`.parallel`). Autograd, traces and float64 take
    :func:`~mmmobilemamba.ops.bidi_selective_scan.bidi_selective_scan_torch`.
    """
    args = (x, x_proj_weight, dt_projs_weight, dt_projs_bias, A_logs, Ds)
    if x.dtype != torch.float32 or records_graph(*args):
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
    threads = num_threads(out.numel())
    load_library().mmm_bidi_selective_scan_f32(
        *[t.data_ptr() for t in tensors + (out, )], batch, length, channels,
        rank, channel_chunk(batch, channels, threads), threads)
    return out.transpose(1, 2)
