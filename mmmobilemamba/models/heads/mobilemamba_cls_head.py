"""Classification head of MobileMamba for mmpretrain."""
from typing import List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.models.heads import ClsHead
from torch import Tensor

from mmmobilemamba.registry import MODELS


def _fuse_bn_linear(norm: nn.BatchNorm1d, fc: nn.Linear) -> nn.Linear:
    """``fc(norm(x))`` as one Linear (eval-mode BN statistics)."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    shift = norm.bias - norm.running_mean * scale
    fused = nn.Linear(fc.in_features, fc.out_features).to(fc.weight)
    with torch.no_grad():
        fused.weight.copy_(fc.weight * scale[None, :])
        fused.bias.copy_(fc.weight @ shift + fc.bias)
    return fused


@MODELS.register_module()
class MobileMambaClsHead(ClsHead):
    """BatchNorm1d + Linear on pooled features, as the official head.

    With ``distillation=True`` a second, identical head (``norm_dist`` /
    ``fc_dist``, the official ``head_dist``) is added; in eval the logits are
    the mean of both heads. No released checkpoint has it: the distilled
    variants use the plain head.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Channels of the pooled feature (E3).
        distillation (bool): Add the second head. Defaults to False.
        deploy (bool): Build the BN-fused form. Defaults to False.

    Shape:
        (B, in_channels) -> (B, num_classes)
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 distillation: bool = False,
                 deploy: bool = False,
                 init_cfg: Optional[dict] = dict(
                     type='TruncNormal', layer='Linear', std=0.02),
                 **kwargs):
        super().__init__(init_cfg=init_cfg, **kwargs)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.distillation = distillation
        self.deploy = deploy
        branches = ('', '_dist') if distillation else ('', )
        for suffix in branches:
            norm = nn.Identity() if deploy else nn.BatchNorm1d(in_channels)
            self.add_module('norm' + suffix, norm)
            self.add_module('fc' + suffix, nn.Linear(in_channels, num_classes))

    def pre_logits(self, feats: Union[Tensor, Tuple[Tensor]]) -> Tensor:
        """The last stage's pooled feature, shape (B, in_channels)."""
        return feats[-1] if isinstance(feats, (tuple, list)) else feats

    def forward(self, feats) -> Tensor:
        x = self.pre_logits(feats)
        logits = self.fc(self.norm(x))
        if self.distillation:
            logits_dist = self.fc_dist(self.norm_dist(x))
            if self.training:
                return logits, logits_dist
            logits = (logits + logits_dist) / 2
        return logits

    def loss(self, feats, data_samples: List, **kwargs) -> dict:
        """Classification loss; with the distillation head, the mean of the
        two heads' losses against the labels."""
        outputs = self(feats)
        if not isinstance(outputs, tuple):
            return self._get_loss(outputs, data_samples, **kwargs)
        losses = [self._get_loss(o, data_samples, **kwargs) for o in outputs]
        merged = dict(losses[0])
        merged['loss'] = sum(item['loss'] for item in losses) / len(losses)
        return merged

    def switch_to_deploy(self) -> None:
        """Fold each BatchNorm1d into its Linear, in place."""
        if self.deploy:
            return
        branches = ('', '_dist') if self.distillation else ('', )
        for suffix in branches:
            fused = _fuse_bn_linear(
                getattr(self, 'norm' + suffix), getattr(self, 'fc' + suffix))
            setattr(self, 'fc' + suffix, fused)
            setattr(self, 'norm' + suffix, nn.Identity())
        self.deploy = True
