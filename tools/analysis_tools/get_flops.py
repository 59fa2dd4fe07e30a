"""Print the FLOPs and parameters of an mmpretrain classifier, mmdet detector
or mmseg segmentor config, counting MobileMamba's selective scan and Haar
wavelet ops (see :mod:`mmmobilemamba.analysis`).

Example::

    python tools/analysis_tools/get_flops.py \\
        configs/mobilemamba/mobilemamba-t2_8xb128_in1k.py
"""
import argparse

from mmengine.analysis.print_helper import complexity_stats_table
from mmengine.config import DictAction

from mmmobilemamba.analysis import analyze_config

_WHAT = dict(
    mmpretrain='classifier, head included',
    mmdet='detector, tensor-mode forward without post-processing',
    mmseg='segmentor, decode head without auxiliary head')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Get the FLOPs and parameters of a model config')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        help='input size "H W" (or "S" for S x S); defaults to the '
        'classifier test crop, 800 x 1333 for detectors and the config '
        'crop_size (else 512 x 512) for segmentors')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, xxx=yyy pairs merged into '
        'it, e.g. model.backbone.arch=b1')
    parser.add_argument(
        '--show-table',
        action='store_true',
        help='also print the per-module parameters and FLOPs')
    return parser.parse_args(argv)


def _size(value: int) -> str:
    return f'{value / 1e9:.3f}G' if value >= 1e9 else f'{value / 1e6:.3f}M'


def main(argv=None):
    args = parse_args(argv)
    result = analyze_config(args.config, args.shape, args.cfg_options)
    analyzer = result['analyzer']
    if args.show_table:
        print(complexity_stats_table(analyzer, show_param_shapes=False))
    line = '=' * 60
    print(line)
    print(f'Model: {result["scope"]} ({_WHAT[result["scope"]]})')
    print(f'Input shape: {result["input_shape"]}')
    print(f'FLOPs: {_size(result["flops"])} ({result["flops"]}; '
          'one multiply-add counts as one FLOP)')
    print(f'Params: {_size(result["params"])} ({result["params"]}, with the '
          'frozen Haar filter banks, as the paper counts)')
    print('FLOPs by operator:')
    for name, flops in analyzer.by_operator().most_common():
        print(f'  {name:<22}{_size(int(flops)):>12}')
    skipped = analyzer.unsupported_ops()
    if skipped:
        names = ', '.join(f'{name.split("::")[-1]} x{count}'
                          for name, count in sorted(skipped.items()))
        print(f'Not counted (no handle, as in fvcore): {names}')
    print(line)


if __name__ == '__main__':
    main()
