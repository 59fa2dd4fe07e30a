#!/usr/bin/env python
"""Convert an official MobileMamba checkpoint to this package's naming.

    python tools/model_converters/mobilemamba_to_mmpretrain.py SRC DST \
        [--ema | --no-ema]

SRC may be a classifier checkpoint (flat, or wrapped in ``model`` /
``module`` / ``net`` / ``state_dict``, or in the EMA wrappers ``model_ema`` /
``state_dict_ema`` / ``ema_state_dict`` or with ``ema.`` key prefixes, with
or without ``module.`` prefixes) or an official detection/segmentation
checkpoint. By default the file's main weights are converted: the plain ones
of a file that also holds EMA weights (of an mmengine ``EMAHook`` file, the
EMA ones it saves as ``state_dict``); ``--ema`` takes the EMA weights,
``--no-ema`` the plain ones, and the converter says which it took.

DST is an mmpretrain checkpoint (``{'state_dict': ..., 'meta': ...}``,
``meta['arch']`` naming the arch) for ``configs/mobilemamba/*.py``, or, for a
detector/segmentor, the same checkpoint with its backbone renamed. Nothing is
written unless every backbone (and classifier head) entry is there, with its
shape, as a dense finite tensor; an official key that cannot be accounted
for is an error. DST is written to a temporary file in its folder and renamed
over DST, so that a failed or interrupted conversion leaves a previous DST as
it was; DST may not be SRC.
"""
import argparse
import io
import os.path as osp

import torch

from mmmobilemamba.engine.atomic_local_backend import write_atomic
from mmmobilemamba.models import MobileMamba
from mmmobilemamba.models.heads import MobileMambaClsHead
from mmmobilemamba.models.utils.checkpoint_arch import (arch_label,
                                                        closest_arch,
                                                        detect_arch,
                                                        reference_shapes)
from mmmobilemamba.models.utils.official_checkpoint import (
    convert_official_state_dict, find_weights, read_official_checkpoint,
    select_weights)
from mmmobilemamba.models.utils.state_dict_check import (
    IncompatibleCheckpointError, check_state_dict)


def _listing(title, items, limit=10):
    shown = ''.join(f'\n    {item}' for item in items[:limit])
    more = f'\n    ... and {len(items) - limit} more' if len(
        items) > limit else ''
    return f'\n  {title} ({len(items)}):{shown}{more}'


def backbone_arch(backbone: dict, official_key: dict) -> str:
    """The arch of the converted backbone; an error that names every
    missing, unexpected and resized entry (official names where the file
    has them) unless it is exactly one arch's backbone."""
    arch = detect_arch(backbone)
    if arch is not None:
        return arch
    arch, matching = closest_arch(backbone)
    reference = reference_shapes(arch)
    label = arch_label(arch)
    missing = [
        k for k in reference
        if k not in backbone and not k.endswith('num_batches_tracked')
    ]
    unexpected = [official_key[k] for k in backbone if k not in reference]
    shapes = {k: tuple(getattr(v, 'shape', ())) for k, v in backbone.items()}
    resized = [
        f'{official_key[k]} ({k}): file {shape}, {label} {reference[k]}'
        for k, shape in shapes.items()
        if k in reference and shape != reference[k]
    ]
    raise IncompatibleCheckpointError(
        'the converted backbone is not a complete MobileMamba backbone; it '
        f'is closest to MobileMamba-{label} ({matching} of {len(reference)} '
        'entries with their key and shape); nothing was written:' +
        (_listing('missing, by converted name', missing) if missing else '') +
        (_listing('unexpected', unexpected) if unexpected else '') +
        (_listing('resized', resized) if resized else '') +
        '\n  convert the complete, unmodified official checkpoint')


def check_head(converted: dict, in_channels: int) -> None:
    """Check a classifier's ``head.*`` entries against its head."""
    fc = converted.get('head.fc.weight')
    head = MobileMambaClsHead(
        num_classes=fc.shape[0] if hasattr(fc, 'shape') else 1000,
        in_channels=in_channels,
        distillation='head.fc_dist.weight' in converted)
    check_state_dict(head, converted, prefix='head.')


def save_atomically(obj, path: str) -> None:
    """``torch.save`` ``obj`` in memory, then write it to ``path`` with
    :func:`write_atomic`: a failed save or write leaves ``path`` as it was."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_atomic(path, buffer.getvalue())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('src', help='official checkpoint')
    parser.add_argument('dst', help='output path (not SRC)')
    parser.add_argument(
        '--ema',
        action=argparse.BooleanOptionalAction,
        default=None,
        help='convert the EMA weights (--ema) or the plain ones (--no-ema); '
        "default: the file's main weights (the plain ones of an official "
        'checkpoint that holds both)')
    args = parser.parse_args(argv)
    if osp.exists(args.src) and osp.exists(args.dst) and osp.samefile(
            args.src, args.dst):
        parser.error(f'DST {args.dst!r} is the source checkpoint '
                     f'{args.src!r} (the same file or a link to it): '
                     'converting would overwrite it; choose another DST')

    checkpoint = read_official_checkpoint(args.src)
    weights = select_weights(checkpoint, args.ema)
    official = weights.state_dict
    converted = convert_official_state_dict(official)
    backbone = {
        k[len('backbone.'):]: v
        for k, v in converted.items() if k.startswith('backbone.')
    }
    # The conversion renames each key in place, so the orders match.
    official_key = {
        new[len('backbone.'):]: old
        for new, old in zip(converted, official) if new.startswith('backbone.')
    }
    arch = backbone_arch(backbone, official_key)
    model = MobileMamba(arch)
    check_state_dict(model, backbone)
    if any(k.startswith('head.') for k in converted):
        check_head(converted, model.arch_settings['embed_dims'][-1])
    save_atomically(
        dict(
            state_dict=converted,
            meta=dict(
                converted_from=osp.basename(args.src),
                arch=arch,
                ema=weights.ema,
                weights=weights.where)), args.dst)

    print(f'{args.src} -> {args.dst}: MobileMamba-{arch.upper()} '
          f'(B1/B2/B4 share one network), {len(backbone)} backbone and '
          f'{len(converted) - len(backbone)} other entries')
    kind, other = ('EMA', 'plain') if weights.ema else ('plain', 'EMA')
    left = [w.where for w in find_weights(checkpoint) if w.ema != weights.ema]
    print(f'took the {kind} weights {weights.where}' +
          (f'; the file also holds {other} weights {", ".join(left)} '
           f'(--{"no-" if weights.ema else ""}ema converts those)'
           if left else ''))


if __name__ == '__main__':
    main()
