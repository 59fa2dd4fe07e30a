#!/usr/bin/env python
"""Record what the tests compare against from the official code itself.

    python tests/data/official/record.py OFFICIAL_ROOT --old-timm DIR

OFFICIAL_ROOT is a checkout of lewandofskee/MobileMamba (0980f48); DIR a
``pip install --target DIR --no-deps timm==0.6.13`` (the official teacher
code needs timm's pre-0.9 layer names; the official MobileMamba code needs
timm >= 0.9, so each part runs in its own process). Writes, beside this file
(or into ``--out``; ``--part`` records one part only):

* ``init_stats.json``: per-tensor statistics (numel, mean, std, min, max)
  of freshly built official T2 and B1 classifiers (``torch.manual_seed(0)``),
  under this package's key names;
* ``tresnet_l_v2_keys.tsv``: the official teacher's state-dict listing;
* ``tresnet_l_v2_logits.pt``: its eval logits for ``teacher_weights``'s
  seed-0 weights on ``teacher_input()``. InplaceABN's compiled op is
  replaced by its documented eval formula: ``act((x - mean) /
  sqrt(var + eps) * (|w| + eps) + b)``.
"""
import argparse
import json
import os.path as osp
import subprocess
import sys
import types

HERE = osp.dirname(osp.abspath(__file__))


def official_package(root):
    """Import the official ``model`` package without its ``__init__``
    (which imports the whole training code)."""
    sys.path.insert(0, root)
    fvcore, fvcore_nn = types.ModuleType('fvcore'), types.ModuleType(
        'fvcore.nn')
    for name in ('FlopCountAnalysis', 'flop_count_str', 'flop_count',
                 'parameter_count', 'flop_count_table'):
        setattr(fvcore_nn, name, None)
    sys.modules.update({'fvcore': fvcore, 'fvcore.nn': fvcore_nn})
    from util.registry import Registry
    package = types.ModuleType('model')
    package.__path__ = [osp.join(root, 'model')]
    package.MODEL = Registry('Model')
    sys.modules['model'] = package


def record_init(root, out=HERE):
    import torch
    official_package(root)
    import model.mobilemamba.mobilemamba as official

    from mmmobilemamba.models.utils import convert_official_state_dict
    stats = {}
    for arch in ('T2', 'B1'):
        torch.manual_seed(0)
        net = getattr(official, f'MobileMamba_{arch}')(num_classes=1000)
        converted = convert_official_state_dict(net.state_dict())
        stats[arch.lower()] = {
            key: [
                value.numel(),
                value.float().mean().item(),
                value.float().std().item() if value.numel() > 1 else 0.,
                value.float().min().item(),
                value.float().max().item()
            ]
            for key, value in converted.items()
        }
    with open(osp.join(out, 'init_stats.json'), 'w') as f:
        json.dump(stats, f, indent=0, sort_keys=True)


def record_teacher(root, old_timm, out=HERE):
    sys.path.insert(0, old_timm)
    import torch
    import torch.nn.functional as F
    official_package(root)
    import timm.models.layers.inplace_abn as iabn

    def inplace_abn(x, weight, bias, running_mean, running_var, training,
                    momentum, eps, activation, activation_param):
        assert not training
        y = F.batch_norm(x, running_mean, running_var,
                         weight.abs() + eps, bias, False, 0., eps)
        if activation == 'leaky_relu':
            return F.leaky_relu(y, activation_param)
        if activation == 'elu':
            return F.elu(y, activation_param)
        return y

    iabn.inplace_abn = inplace_abn
    import model.lib_teacher.tresnet_v2 as tresnet
    sys.path.insert(0, HERE)
    from teacher_weights import (make_teacher_state_dict, read_listing,
                                 teacher_input)

    net = tresnet.tresnet_l_v2(num_classes=1000).eval()
    listing = osp.join(out, 'tresnet_l_v2_keys.tsv')
    with open(listing, 'w') as f:
        for key, value in net.state_dict().items():
            shape = ','.join(str(d) for d in value.shape)
            dtype = str(value.dtype).replace('torch.', '')
            f.write(f'{key}\t[{shape}]\t{dtype}\n')
    net.load_state_dict(make_teacher_state_dict(read_listing(listing)))
    with torch.no_grad():
        logits = net(teacher_input())
    torch.save(dict(logits=logits), osp.join(out, 'tresnet_l_v2_logits.pt'))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('official_root')
    parser.add_argument('--old-timm', help='timm 0.6 folder (teacher part)')
    parser.add_argument('--out', default=HERE)
    parser.add_argument(
        '--part', choices=('all', 'init', 'teacher'), default='all')
    args = parser.parse_args()
    if args.part in ('all', 'init'):
        record_init(args.official_root, args.out)
    if args.part == 'teacher':
        record_teacher(args.official_root, args.old_timm, args.out)
    elif args.part == 'all':
        if not args.old_timm:
            parser.error('--old-timm is needed to record the teacher')
        subprocess.run([
            sys.executable, __file__, args.official_root, '--old-timm',
            args.old_timm, '--out', args.out, '--part', 'teacher'
        ],
                       check=True)


if __name__ == '__main__':
    main()
