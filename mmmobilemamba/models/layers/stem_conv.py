"""The stem's first convolution."""
from torch import Tensor

from mmmobilemamba.ops import stem_conv2d
from .activated_conv import ActivatedConv2d


class StemConv2d(ActivatedConv2d):
    """A dense ``nn.Conv2d`` (same parameters and state dict) computed by
    :func:`~mmmobilemamba.ops.stem_conv2d`, for the few-channel image
    entering the stem: on the CPU it reads the image in either layout and
    writes a channels-last map. Arguments as :class:`ActivatedConv2d`.

    Shape:
        (B, C, H, W) -> (B, O, H', W')
    """

    groups_needed = 'groups=1'

    def computes_groups(self) -> bool:
        return self.groups == 1

    def forward(self, x: Tensor) -> Tensor:
        return stem_conv2d(x, self.weight, self.bias, self.stride,
                           self.padding, self.activation)
