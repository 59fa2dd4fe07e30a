"""C kernel of :func:`~mmmobilemamba.ops.stem_conv2d` for CPU inference."""
from typing import Optional, Tuple, Union

import torch
from torch import Tensor
from torch.nn.modules.utils import _pair

from ..backends import records_graph, register_op
from ..stem_conv import stem_conv2d_torch
from .library import ACTIVATION_CODES, PRIORITY, available, load_library
from .parallel import num_threads

#: Input channels up to which the kernel beats oneDNN (it broadcasts every
#: input value; oneDNN's blocked kernels win on wide inputs).
MAX_IN_CHANNELS = 4


@register_op(
    'stem_conv2d',
    'c',
    priority=PRIORITY,
    devices=('cpu', ),
    available=available)
def stem_conv2d_c(x: Tensor,
                  weight: Tensor,
                  bias: Optional[Tensor] = None,
                  stride: Union[int, Tuple[int, int]] = 1,
                  padding: Union[int, Tuple[int, int]] = 0,
                  activation: Optional[str] = None) -> Tensor:
    """Reads NCHW or channels-last input in place and writes channels-last,
    output channels vectorised, the activation applied on the way out; no
    layout conversion of the image and no separate activation pass. More
    than :data:`MAX_IN_CHANNELS` input channels, unequal strides, autograd,
    traces and dtypes other than float32 take
    :func:`~mmmobilemamba.ops.stem_conv.stem_conv2d_torch`.
    """
    stride_h, stride_w = _pair(stride)
    tensors = (x, weight) if bias is None else (x, weight, bias)
    if any(t.dtype != torch.float32 for t in tensors) or \
            stride_h != stride_w or x.shape[1] > MAX_IN_CHANNELS or \
            records_graph(*tensors):
        return stem_conv2d_torch(x, weight, bias, stride, padding, activation)
    batch, in_c, height, width = x.shape
    out_c, _, kernel_h, kernel_w = weight.shape
    pad_h, pad_w = _pair(padding)
    out_h = (height + 2 * pad_h - kernel_h) // stride_h + 1
    out_w = (width + 2 * pad_w - kernel_w) // stride_w + 1
    weight = weight.contiguous()
    padded = -(-out_c // 8) * 8
    taps = x.new_empty(in_c * kernel_h * kernel_w + 1, padded)
    out = x.new_empty(batch, out_h, out_w, out_c)
    load_library().mmm_stem_conv2d_f32(
        x.data_ptr(), weight.data_ptr(),
        None if bias is None else bias.contiguous().data_ptr(),
        taps.data_ptr(), out.data_ptr(), batch, in_c, height, width, out_c,
        *x.stride(), kernel_h, kernel_w, stride_h, pad_h, pad_w, out_h, out_w,
        ACTIVATION_CODES[activation], num_threads(out.numel()))
    return out.permute(0, 3, 1, 2)
