#!/usr/bin/env python
"""Convert an official MobileMamba checkpoint to this package's naming.

    python tools/model_converters/mobilemamba_to_mmpretrain.py SRC DST

SRC may be a classifier checkpoint (flat, or wrapped in ``net`` / ``model`` /
``state_dict``, with or without ``module.`` prefixes) or an official
detection/segmentation checkpoint. DST is an mmpretrain checkpoint
(``{'state_dict': ..., 'meta': ...}``) for ``configs/mobilemamba/*.py``, or,
for a detector/segmentor, the same checkpoint with its backbone renamed. The
converted backbone is checked against the MobileMamba arch it matches; an
official key that cannot be accounted for is an error.
"""
import argparse
import os.path as osp

import torch

from mmmobilemamba.models import MobileMamba
from mmmobilemamba.models.utils import (check_state_dict,
                                        convert_official_state_dict,
                                        load_official_checkpoint)


def detect_arch(backbone_state: dict) -> str:
    """Name of the arch whose state dict has exactly these keys and shapes."""
    shapes = {k: tuple(v.shape) for k, v in backbone_state.items()}
    for arch in MobileMamba.arch_zoo:
        if arch in ('b2', 'b4'):  # the same network as b1
            continue
        reference = MobileMamba(arch).state_dict()
        if shapes.keys() == reference.keys() and all(
                shapes[k] == tuple(v.shape) for k, v in reference.items()):
            return arch
    raise ValueError('the converted backbone matches no MobileMamba arch '
                     f'({sorted(MobileMamba.arch_zoo)})')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('src', help='official checkpoint')
    parser.add_argument('dst', help='output path')
    args = parser.parse_args()

    converted = convert_official_state_dict(load_official_checkpoint(args.src))
    backbone = {
        k[len('backbone.'):]: v
        for k, v in converted.items() if k.startswith('backbone.')
    }
    arch = detect_arch(backbone)
    check_state_dict(MobileMamba(arch), backbone)
    torch.save(
        dict(
            state_dict=converted,
            meta=dict(converted_from=osp.basename(args.src), arch=arch)),
        args.dst)
    others = len(converted) - len(backbone)
    print(f'{args.src} -> {args.dst}: MobileMamba-{arch.upper()} '
          f'(B1/B2/B4 share one network), {len(backbone)} backbone and '
          f'{others} other entries')


if __name__ == '__main__':
    main()
