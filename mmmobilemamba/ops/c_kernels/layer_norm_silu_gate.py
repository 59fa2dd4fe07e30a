"""C kernel of :func:`~mmmobilemamba.ops.layer_norm_silu_gate` for CPU
inference."""
import torch
from torch import Tensor

from ..backends import records_graph, register_op
from ..layer_norm_silu_gate import layer_norm_silu_gate_torch
from .library import PRIORITY, available, load_library
from .parallel import num_threads


@register_op(
    'layer_norm_silu_gate',
    'c',
    priority=PRIORITY,
    devices=('cpu', ),
    available=available)
def layer_norm_silu_gate_c(x: Tensor, gate: Tensor, weight: Tensor,
                           bias: Tensor, eps: float) -> Tensor:
    """One pass per pixel, channels-last: the statistics, normalisation,
    affine and gate together, reading the gate half of a channels-last map
    in place. Autograd, traces and dtypes other than float32 take
    :func:`~mmmobilemamba.ops.layer_norm_silu_gate.layer_norm_silu_gate_torch`.
    """
    args = (x, gate, weight, bias, eps)
    if any(t.dtype != torch.float32
           for t in args[:4]) or records_graph(*args[:4]):
        return layer_norm_silu_gate_torch(*args)
    batch, channels, height, width = x.shape
    if not x.is_contiguous(memory_format=torch.channels_last):
        x = x.contiguous(memory_format=torch.channels_last)
    if gate.stride(1) != 1 or gate.stride(2) != width * gate.stride(3):
        gate = gate.contiguous(memory_format=torch.channels_last)
    weight, bias = weight.contiguous(), bias.contiguous()
    out = x.new_empty(batch, height, width, channels)
    load_library().mmm_layer_norm_silu_gate_f32(x.data_ptr(), gate.data_ptr(),
                                                weight.data_ptr(),
                                                bias.data_ptr(),
                                                out.data_ptr(), batch,
                                                height * width, channels,
                                                gate.stride(0), gate.stride(3),
                                                eps, num_threads(out.numel()))
    return out.permute(0, 3, 1, 2)
