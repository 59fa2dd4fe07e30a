"""Convolutions whose op applies an activation on the way out."""
from typing import Optional

import torch.nn as nn

from mmmobilemamba.ops.depthwise_conv import ACTIVATIONS


class ActivatedConv2d(nn.Conv2d):
    """An ``nn.Conv2d`` (same parameters and state dict) computed by an op
    of :mod:`mmmobilemamba.ops` that can apply an activation to its output
    (see :func:`~.fold_activations.fold_activations`). Subclasses say which
    ``groups`` their op computes and call it in ``forward``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int | tuple[int, int]): Kernel size.
        stride (int | tuple[int, int]): Stride. Defaults to 1.
        padding (int | tuple[int, int]): Zero padding. Defaults to 0.
        activation (str, optional): ``None``, ``'relu'`` or ``'silu'``,
            applied to the output. Defaults to None.
        **kwargs: ``bias`` and the other ``nn.Conv2d`` arguments.
    """

    #: The groups the op computes, in words, for the error message.
    groups_needed = ''

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size,
                 stride=1,
                 padding=0,
                 dilation=1,
                 groups: int = 1,
                 activation: Optional[str] = None,
                 **kwargs):
        super().__init__(in_channels, out_channels, kernel_size, stride,
                         padding, dilation, groups, **kwargs)
        if not self.computes_groups() or isinstance(
                padding, str) or self.dilation != (1, 1) or \
                self.padding_mode != 'zeros' or activation not in ACTIVATIONS:
            raise ValueError(
                f'{type(self).__name__} needs {self.groups_needed}, integer '
                'zero padding, no dilation and an activation in '
                f'{ACTIVATIONS}; got {in_channels}->{out_channels} channels, '
                f'groups={groups}, padding={padding!r}, dilation='
                f'{self.dilation}, padding_mode={self.padding_mode!r}, '
                f'activation={activation!r}; use nn.Conv2d otherwise')
        self.activation = activation

    def computes_groups(self) -> bool:
        """Whether the op computes this conv's ``groups``."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.activation is not None:
            text += f', activation={self.activation!r}'
        return text
