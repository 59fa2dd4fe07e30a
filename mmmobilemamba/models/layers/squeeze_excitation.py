"""Squeeze-and-excitation with biased 1x1 convs (as timm's ``SEModule``)."""
import torch.nn as nn
from torch import Tensor

from .pointwise_conv import PointwiseConv2d


class SqueezeExcitation(nn.Module):
    """``x * sigmoid(fc2(relu(fc1(mean_hw(x)))))``.

    Args:
        channels (int): Input channels C.
        squeeze_channels (int): Hidden channels.

    Shape:
        (B, C, H, W) -> (B, C, H, W)
    """

    def __init__(self, channels: int, squeeze_channels: int):
        super().__init__()
        self.fc1 = PointwiseConv2d(channels, squeeze_channels, 1)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = PointwiseConv2d(squeeze_channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        w = x.mean((2, 3), keepdim=True)
        return x * self.fc2(self.act(self.fc1(w))).sigmoid()
