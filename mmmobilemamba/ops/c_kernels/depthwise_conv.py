"""C kernel of :func:`~mmmobilemamba.ops.depthwise_conv2d` for CPU
inference."""
from typing import Optional, Tuple, Union

import torch
from torch import Tensor
from torch.nn.modules.utils import _pair

from ..backends import records_graph, register_op
from ..depthwise_conv import depthwise_conv2d_torch
from .library import ACTIVATION_CODES, PRIORITY, available, load_library
from .parallel import num_threads


@register_op(
    'depthwise_conv2d',
    'c',
    priority=PRIORITY,
    devices=('cpu', ),
    available=available)
def depthwise_conv2d_c(x: Tensor,
                       weight: Tensor,
                       bias: Optional[Tensor] = None,
                       stride: Union[int, Tuple[int, int]] = 1,
                       padding: Union[int, Tuple[int, int]] = 0,
                       activation: Optional[str] = None,
                       residual: bool = False) -> Tensor:
    """Channels-last, by output row and 32-channel group, the activation
    and residual applied on the way out. It needs no per-call set-up,
    which dominates oneDNN's depthwise convs on MobileMamba's small maps,
    and reads a channel slice of a channels-last map in place. Unequal
    strides, autograd, traces and dtypes other than float32 take
    :func:`~mmmobilemamba.ops.depthwise_conv.depthwise_conv2d_torch`.
    """
    stride_h, stride_w = _pair(stride)
    kernel_h, kernel_w = weight.shape[-2:]
    if x.dtype != torch.float32 or weight.dtype != torch.float32 or (
            bias is not None and bias.dtype
            != torch.float32) or stride_h != stride_w or (records_graph(
                x, weight) or bias is not None and records_graph(bias)):
        return depthwise_conv2d_torch(x, weight, bias, stride, padding,
                                      activation, residual)
    batch, channels, height, width = x.shape
    pad_h, pad_w = _pair(padding)
    out_h = (height + 2 * pad_h - kernel_h) // stride_h + 1
    out_w = (width + 2 * pad_w - kernel_w) // stride_w + 1
    if residual and (out_h, out_w) != (height, width):
        # The PyTorch path raises the error that names the fix.
        return depthwise_conv2d_torch(x, weight, bias, stride, padding,
                                      activation, residual)
    if x.stride(1) != 1:
        x = x.contiguous(memory_format=torch.channels_last)
    weight = weight.contiguous()
    taps = x.new_empty(kernel_h * kernel_w, channels)  # weight, transposed
    out = x.new_empty(batch, out_h, out_w, channels)
    sb, _, sh, sw = x.stride()
    load_library().mmm_depthwise_conv2d_f32(
        x.data_ptr(), weight.data_ptr(),
        None if bias is None else bias.contiguous().data_ptr(),
        taps.data_ptr(), out.data_ptr(), batch, height, width, channels, sb,
        sh, sw, kernel_h, kernel_w, stride_h, pad_h, pad_w, out_h, out_w,
        ACTIVATION_CODES[activation], residual, num_threads(out.numel()))
    return out.permute(0, 3, 1, 2)
