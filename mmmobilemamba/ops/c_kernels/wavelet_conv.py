"""C kernel of :func:`~mmmobilemamba.ops.wavelet_conv` for CPU inference."""
import torch
from torch import Tensor

from ..backends import records_graph, register_op
from ..wavelet_conv import fold_haar_weight, is_haar_bank, wavelet_conv_torch
from .library import PRIORITY, available, load_library
from .parallel import channel_chunk, num_threads


@register_op(
    'wavelet_conv',
    'c',
    priority=PRIORITY,
    devices=('cpu', ),
    available=available)
def wavelet_conv_c(x: Tensor, wt_filter: Tensor, iwt_filter: Tensor,
                   weight: Tensor, scale: Tensor) -> Tensor:
    """Haar analysis, depthwise conv and synthesis in one pass over each
    map, channels-last, with the official banks' gains and ``scale`` folded
    into the weight. Other banks, autograd, traces and dtypes other than
    float32 take :func:`~mmmobilemamba.ops.wavelet_conv.wavelet_conv_torch`.
    """
    args = (x, wt_filter, iwt_filter, weight, scale)
    batch, channels, height, width = x.shape
    official = is_haar_bank(wt_filter, channels) and is_haar_bank(
        iwt_filter, channels)
    if x.dtype != torch.float32 or records_graph(*args) or not official:
        return wavelet_conv_torch(*args)
    kernel = weight.shape[-1]
    f32 = dict(dtype=torch.float32)
    # (C, 4 subbands, k, k) -> (k, k, 4 subbands, C).
    folded = fold_haar_weight(weight.to(**f32), scale.to(**f32),
                              channels).permute(2, 3, 1, 0).contiguous()
    pixels = x.permute(0, 2, 3, 1).contiguous()  # (B, H, W, C)
    coeffs = pixels.new_empty(batch, (height + 1) // 2, (width + 1) // 2, 4,
                              channels)
    out = torch.empty_like(pixels)
    threads = num_threads(out.numel())
    load_library().mmm_haar_wavelet_conv_f32(
        *[t.data_ptr() for t in (pixels, folded, coeffs, out)],
        batch, height, width, channels, kernel,
        channel_chunk(batch, channels, threads), threads)
    return out.permute(0, 3, 1, 2)
