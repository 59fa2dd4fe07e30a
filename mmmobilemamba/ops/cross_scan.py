"""Bidirectional cross-scan and cross-merge (MobileMamba's ``v052d``).

A feature map (B, D, H, W) is flattened row-major (position ``l = h*W + w``)
into two sequences: direction 0 is the flattened map, direction 1 the whole
flattened map reversed. Merging adds direction 0 and the re-reversed
direction 1, per batch item.
"""
import torch
from torch import Tensor

from .backends import dispatch, register_op


def cross_scan_bidi(x: Tensor) -> Tensor:
    """(B, D, H, W) or (B, D, L) -> (B, 2, D, L): [sequence, reversed]."""
    return dispatch('cross_scan_bidi', x.device)(x)


def cross_merge_bidi(ys: Tensor) -> Tensor:
    """(B, 2, D, L) or (B, 2, D, H, W) -> (B, D, L):
    ``y[:, 0] + reverse(y[:, 1])``."""
    return dispatch('cross_merge_bidi', ys.device)(ys)


@register_op('cross_scan_bidi', 'torch')
def cross_scan_bidi_torch(x: Tensor) -> Tensor:
    x = x.flatten(2)
    return torch.stack([x, x.flip(-1)], dim=1)


@register_op('cross_merge_bidi', 'torch')
def cross_merge_bidi_torch(ys: Tensor) -> Tensor:
    ys = ys.flatten(3)
    return ys[:, 0] + ys[:, 1].flip(-1)
