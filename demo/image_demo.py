#!/usr/bin/env python
"""Classify an image with a MobileMamba config and save it annotated.

    python demo/image_demo.py IMAGE CONFIG CHECKPOINT --out-file result.png
"""
import argparse

import mmcv
from mmpretrain import ImageClassificationInferencer
from mmpretrain.visualization import UniversalVisualizer

import mmmobilemamba  # noqa: F401  (registers the models)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='mmpretrain config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out-file', default='result.png', help='annotated image to write')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument('--topk', type=int, default=5, help='classes to print')
    return parser.parse_args()


def main():
    args = parse_args()
    inferencer = ImageClassificationInferencer(
        model=args.config, pretrained=args.checkpoint, device=args.device)
    prediction = inferencer(args.img, return_datasamples=True)[0]
    scores = prediction.pred_score
    classes = inferencer.classes or [str(i) for i in range(len(scores))]
    for score, label in zip(*scores.topk(min(args.topk, len(scores)))):
        print(f'{classes[label]}: {score:.4f}')
    UniversalVisualizer().visualize_cls(
        mmcv.imread(args.img, channel_order='rgb'),
        prediction,
        classes=classes,
        show=False,
        out_file=args.out_file)
    print(f'annotated image written to {args.out_file}')


if __name__ == '__main__':
    main()
