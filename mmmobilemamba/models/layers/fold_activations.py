"""Move activations into the convolutions that apply them on the way out."""
import torch.nn as nn
from mmcv.cnn import ConvModule

from .activated_conv import ActivatedConv2d


def fold_activations(model: nn.Module) -> None:
    """Give the ReLU of every BN-free ``ConvModule`` (conv, then ReLU) whose
    conv can apply it itself (an :class:`ActivatedConv2d`) to that conv, in
    place: the same function, without
    a pass over the map of its own. For the deploy (BN-fused) form."""
    for module in model.modules():
        if isinstance(module, ConvModule) and not module.with_norm \
                and module.with_activation \
                and isinstance(module.activate, nn.ReLU) \
                and isinstance(module.conv, ActivatedConv2d) \
                and module.conv.activation is None \
                and module.order.index('conv') < module.order.index('act'):
            module.conv.activation = 'relu'
            module.with_activation = False
            del module.activate
