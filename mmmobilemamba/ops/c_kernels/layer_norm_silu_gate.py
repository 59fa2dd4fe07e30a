"""C kernel of :func:`~mmmobilemamba.ops.layer_norm_silu_gate` for CPU
inference."""
from typing import Optional

import torch
from torch import Tensor

from ..backends import records_graph, register_op
from ..layer_norm_silu_gate import layer_norm_silu_gate_torch
from .library import PRIORITY, available, load_library
from .parallel import num_threads


def _pixel_stride(t: Tensor) -> Optional[int]:
    """The step between a (B, C, H, W) map's consecutive pixels (in
    row-major order) where its channels are contiguous and one step
    reaches every pixel, else ``None``. A size-1 dim's stride is
    arbitrary (PyTorch's contiguity checks ignore it): with ``W = 1`` the
    step is ``H``'s stride."""
    _, channels, height, width = t.shape
    if channels > 1 and t.stride(1) != 1:
        return None
    if width == 1:
        return t.stride(2)
    if height == 1 or t.stride(2) == width * t.stride(3):
        return t.stride(3)
    return None


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
    pixel_stride = _pixel_stride(gate)
    if pixel_stride is None:
        gate = gate.contiguous(memory_format=torch.channels_last)
        pixel_stride = _pixel_stride(gate)
    weight, bias = weight.contiguous(), bias.contiguous()
    out = x.new_empty(batch, height, width, channels)
    load_library().mmm_layer_norm_silu_gate_f32(x.data_ptr(), gate.data_ptr(),
                                                weight.data_ptr(),
                                                bias.data_ptr(),
                                                out.data_ptr(), batch,
                                                height * width, channels,
                                                gate.stride(0), pixel_stride,
                                                eps, num_threads(out.numel()))
    return out.permute(0, 3, 1, 2)
