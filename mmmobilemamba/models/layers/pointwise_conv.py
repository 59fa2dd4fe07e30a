"""1x1 convolution with CPU-friendly kernels."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

#: Rows (batch items x pixels) or multiply-adds from which a channels-last
#: CPU map goes to oneDNN's 1x1 convolution: below, its fixed cost per call
#: loses to a matmul; above, its kernels are 5-20% faster than the matmul's.
ONEDNN_MIN_ROWS = 1024
ONEDNN_MIN_MACS = 10**8


class PointwiseConv2d(nn.Conv2d):
    """A 1x1 ``nn.Conv2d`` (same parameters and state dict), either dense
    (``groups=1``) or per-channel (``groups = in = out channels``).

    A per-channel one is a multiply-add on any device. A dense one on a
    channels-last CPU map (or a channel slice of one) is ``F.linear`` over
    the channel dim, a view of the map's memory: oneDNN's 1x1 kernels are
    up to several times slower at MobileMamba's small (3x3 to 24x24) maps.
    A whole channels-last map of at least :data:`ONEDNN_MIN_ROWS` pixels
    (over the batch), or a conv of at least :data:`ONEDNN_MIN_MACS`
    multiply-adds, goes to oneDNN, which is faster there.

    Shape:
        (B, C_in, H, W) -> (B, C_out, H, W), in the input's memory format.
    """

    def __init__(self, in_channels: int, out_channels: int, *args, **kwargs):
        super().__init__(in_channels, out_channels, *args, **kwargs)
        pointwise = (self.kernel_size, self.stride, self.padding,
                     self.dilation) == ((1, 1), (1, 1), (0, 0), (1, 1))
        per_channel = self.groups == in_channels == out_channels
        if not pointwise or self.padding_mode != 'zeros' or \
                not (self.groups == 1 or per_channel):
            raise ValueError(
                'PointwiseConv2d is a dense or per-channel 1x1 convolution '
                'with stride 1 and no padding; got kernel_size='
                f'{self.kernel_size}, stride={self.stride}, padding='
                f'{self.padding}, dilation={self.dilation}, groups='
                f'{self.groups} for {in_channels}->{out_channels} channels; '
                'use nn.Conv2d for anything else')

    def forward(self, x: Tensor) -> Tensor:
        if self.groups > 1:
            # A trace (FLOP counting, ONNX export) keeps the convolution,
            # which fvcore counts as it counts the official code's.
            if torch.jit.is_tracing():
                return super().forward(x)
            weight = self.weight.view(1, -1, 1, 1)
            if self.bias is None:
                return x * weight
            return torch.addcmul(self.bias.view(1, -1, 1, 1), x, weight)
        if x.device.type == 'cpu' and x.dim() == 4 and x.stride(1) == 1:
            rows = x.numel() // x.shape[1]
            if (rows >= ONEDNN_MIN_ROWS or rows * self.weight.numel()
                    >= ONEDNN_MIN_MACS) and x.is_contiguous(
                        memory_format=torch.channels_last):
                return super().forward(x)
            out = F.linear(
                x.permute(0, 2, 3, 1), self.weight.flatten(1), self.bias)
            return out.permute(0, 3, 1, 2)
        return super().forward(x)
