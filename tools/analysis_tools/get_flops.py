"""Print the FLOPs and parameters of an mmpretrain classifier, mmdet detector
or mmseg segmentor config, counting MobileMamba's selective scan and Haar
wavelet ops (see :mod:`mmmobilemamba.analysis`).

Without ``--shape`` the model is counted at the config's own test size
(:func:`mmmobilemamba.analysis.default_input_shape`):

* classifier: the test crop (192 x 192 for T2);
* detector: what the test pipeline makes of a 16:10 image. A fixed
  ``Resize`` scale (w, h) gives H x W (SSDLite: 320 x 320, 512 x 512); a
  keep-ratio one the largest 16:10 image inside it, so COCO's (1333, 800)
  gives 800 x 1280, the 1280 x 800 detection papers count at. The data
  preprocessor then pads it to its ``pad_size_divisor``, as mmdet's
  get_flops pads its images;
* segmentor: its crop size (slide-inference window, else ``crop_size``:
  512 x 512 for the ADE20K configs), else the test pipeline's size.

Example::

    python tools/analysis_tools/get_flops.py \\
        configs/mobilemamba/mobilemamba-t2_8xb128_in1k.py
    python tools/analysis_tools/get_flops.py \\
        configs/retinanet/retinanet_mobilemamba-b1_fpn_4xb4-1x_coco.py \\
        --shape 800 1333
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
        help='input size "H W" (or "S" for S x S) instead of the config\'s '
        'test size: the test crop of a classifier, the test pipeline\'s '
        'Resize of a 16:10 image for a detector (keep-ratio (1333, 800): '
        '800 x 1280; padded to the preprocessor\'s pad_size_divisor), the '
        'crop size of a segmentor')
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
    source = result['shape_source']
    source = ('--shape' if source == 'given' else
              f"the config's {source}; --shape overrides")
    print(f'Input shape: {result["input_shape"]} ({source})')
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
