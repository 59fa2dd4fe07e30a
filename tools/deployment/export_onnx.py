#!/usr/bin/env python
"""Export a MobileMamba classifier (or its backbone) to ONNX.

    python tools/deployment/export_onnx.py \\
        configs/mobilemamba/mobilemamba-t2_8xb128_in1k.py CHECKPOINT \\
        --out mobilemamba-t2.onnx [--shape 192 192] [--backbone-only]

The model is BN-fused (``switch_to_deploy()``) and traced with the
pure-PyTorch ops into standard ONNX operators (TorchScript-based exporter,
opset 18) with a dynamic batch axis; height and width are fixed at export.
The graph takes the normalised image (B, 3, H, W), i.e. after the config's
``data_preprocessor`` (mean/std, RGB), and returns the logits (B, classes)
or, with ``--backbone-only``, one (B, C_i, H_i, W_i) map per requested
level. The export is checked with onnxruntime on a batch of a different
size (the maximum absolute difference is printed); ``--benchmark`` times
onnxruntime against PyTorch on the CPU in the same run.
"""
import argparse
import collections
import os.path as osp
import statistics
import time
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import load_state_dict
from torch import nn

from mmmobilemamba.analysis import crop_shape
from mmmobilemamba.ops import use_backend

#: Operator domains of standard ONNX ('' and its alias 'ai.onnx').
STANDARD_DOMAINS = ('', 'ai.onnx')
DEFAULT_OPSET = 18


class ClassifierLogits(nn.Module):
    """An mmpretrain classifier as a plain module: images -> logits."""

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.classifier(inputs, mode='tensor')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'config',
        help='mmpretrain classifier config (or, '
        'with --backbone-only, any config whose model has '
        'a MobileMamba backbone)')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='checkpoint (read with weights_only=True); its state dict '
        'must match the config (a fused checkpoint needs a deploy config). '
        'Without one the weights are random')
    parser.add_argument('--out', required=True, help='ONNX file to write')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='input height and width (default: the config test crop, '
        'else 224 x 224)')
    parser.add_argument(
        '--backbone-only',
        action='store_true',
        help='export the backbone alone: one output per out_indices level')
    parser.add_argument(
        '--out-indices',
        type=int,
        nargs='+',
        help='backbone levels to output (with --backbone-only; default: '
        'those of the config)')
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET)
    parser.add_argument(
        '--atol',
        type=float,
        default=1e-4,
        help='largest accepted |onnxruntime - PyTorch| difference')
    parser.add_argument(
        '--verify-batch',
        type=int,
        default=2,
        help='batch size of the onnxruntime check (exported at batch 1)')
    parser.add_argument(
        '--benchmark',
        action='store_true',
        help='time onnxruntime against PyTorch on the CPU')
    parser.add_argument('--batch-size', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--threads', type=int, help='CPU threads (both)')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--repeat', type=int, default=10)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, e.g. model.backbone.arch=b1')
    return parser.parse_args(argv)


def load_checkpoint_strict(model: nn.Module,
                           path: str,
                           prefix: str = '') -> None:
    """Load ``path`` (``weights_only``) into ``model``: every key of the
    model, from the entries under ``prefix``, and nothing else."""
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    state_dict = checkpoint.get('state_dict', checkpoint)
    if prefix:
        state_dict = {
            k[len(prefix):]: v
            for k, v in state_dict.items() if k.startswith(prefix)
        }
        if not state_dict:
            raise ValueError(f'checkpoint {path!r} has no {prefix!r} '
                             'entries; pass a classifier, detector or '
                             'segmentor checkpoint')
    load_state_dict(model, state_dict, strict=True)


def build_model(cfg: Config,
                checkpoint: Optional[str] = None,
                backbone_only: bool = False,
                out_indices: Optional[Sequence[int]] = None) -> nn.Module:
    """The BN-fused, eval-mode module to export."""
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    if backbone_only:
        from mmmobilemamba.registry import MODELS
        backbone_cfg = cfg.model.backbone.copy()
        backbone_cfg.pop('init_cfg', None)
        if out_indices is not None:
            backbone_cfg['out_indices'] = list(out_indices)
        model = MODELS.build(backbone_cfg)
        if checkpoint:
            load_checkpoint_strict(model, checkpoint, prefix='backbone.')
    else:
        if out_indices is not None:
            raise ValueError('--out-indices needs --backbone-only')
        if cfg.get('default_scope') != 'mmpretrain':
            raise ValueError(
                'only mmpretrain classifiers are exported whole; export '
                'the backbone of a detector or segmentor with '
                '--backbone-only')
        from mmpretrain.registry import MODELS
        model_cfg = cfg.model.copy()
        model_cfg.get('backbone', {}).pop('init_cfg', None)
        model = MODELS.build(model_cfg)
        if checkpoint:
            load_checkpoint_strict(model, checkpoint)
    model.switch_to_deploy()
    # eval() last: torch.onnx.export restores the top module's mode to the
    # whole tree afterwards.
    return (model if backbone_only else ClassifierLogits(model)).eval()


def output_names(model: nn.Module) -> List[str]:
    if isinstance(model, ClassifierLogits):
        return ['logits']
    return [f'level{i}' for i in model.out_indices]


def export(model: nn.Module,
           path: str,
           shape: Tuple[int, int],
           opset: int = DEFAULT_OPSET) -> List[str]:
    """Trace ``model`` at batch 1 into ``path``, batch axis dynamic, with the
    pure-PyTorch ops; returns the output names."""
    names = output_names(model)
    axes = {name: {0: 'batch'} for name in ['input'] + names}
    inputs = torch.randn(1, 3, *shape)
    with use_backend('torch'), torch.no_grad(), warnings.catch_warnings():
        # Python-side shape logic is traced as constants: H and W are fixed.
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        torch.onnx.export(
            model, (inputs, ),
            path,
            dynamo=False,
            opset_version=opset,
            input_names=['input'],
            output_names=names,
            dynamic_axes=axes)
    return names


def check_graph(path: str) -> collections.Counter:
    """Check the model with onnx's checker; return its (domain, op) counts,
    raising if an operator is outside standard ONNX or is a Loop/Scan."""
    import onnx
    model = onnx.load(path)
    onnx.checker.check_model(model)
    ops = collections.Counter((n.domain, n.op_type) for n in model.graph.node)
    custom = sorted(
        {f'{d}::{op}'
         for d, op in ops if d not in STANDARD_DOMAINS})
    loops = sorted({op for _, op in ops if op in ('Loop', 'Scan')})
    if custom or loops:
        raise RuntimeError(f'{path} uses non-standard or looping operators: '
                           f'{custom + loops}')
    return ops


def ort_session(path: str, threads: Optional[int] = None):
    import onnxruntime as ort
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(
        path, options, providers=['CPUExecutionProvider'])


def run_ort(session, inputs: torch.Tensor) -> List[np.ndarray]:
    return session.run(None, {'input': inputs.numpy()})


def run_torch(model: nn.Module,
              inputs: torch.Tensor,
              backend: Optional[str] = 'torch') -> List[np.ndarray]:
    """The model's outputs with the ops of ``backend`` (default: the
    PyTorch ops, which the export traces; ``None``: the automatic choice).
    """
    with use_backend(backend), torch.no_grad():
        outs = model(inputs)
    outs = outs if isinstance(outs, (tuple, list)) else [outs]
    return [o.numpy() for o in outs]


def max_abs_diff(model: nn.Module, session,
                 inputs: torch.Tensor) -> Dict[str, float]:
    """Per output: max |onnxruntime - PyTorch| on ``inputs``."""
    names = [o.name for o in session.get_outputs()]
    expected = run_torch(model, inputs)
    got = run_ort(session, inputs)
    for name, e, g in zip(names, expected, got):
        if e.shape != g.shape:
            raise RuntimeError(f'output {name}: onnxruntime gives shape '
                               f'{g.shape}, PyTorch {e.shape}')
    return {
        name: float(np.abs(e - g).max())
        for name, e, g in zip(names, expected, got)
    }


def median_seconds(fn, warmup: int, repeat: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def benchmark(model: nn.Module, session, shape: Tuple[int, int],
              batch_sizes: Sequence[int], warmup: int,
              repeat: int) -> List[dict]:
    """Median latency of PyTorch (the ops' automatic backends, as a user
    runs it) and onnxruntime, same inputs, per batch."""
    rows = []
    for batch in batch_sizes:
        inputs = torch.randn(batch, 3, *shape)
        for runtime, fn in (('pytorch',
                             lambda: run_torch(model, inputs, backend=None)),
                            ('onnxruntime', lambda: run_ort(session, inputs))):
            seconds = median_seconds(fn, warmup, repeat)
            rows.append(
                dict(
                    runtime=runtime,
                    batch_size=batch,
                    latency_ms=seconds * 1e3,
                    images_per_s=batch / seconds))
    return rows


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    shape = tuple(args.shape or crop_shape(cfg) or (224, 224))
    model = build_model(cfg, args.checkpoint, args.backbone_only,
                        args.out_indices)
    start = time.perf_counter()
    export(model, args.out, shape, args.opset)
    ops = check_graph(args.out)
    print(f'exported {osp.basename(args.config)} '
          f'({"backbone" if args.backbone_only else "classifier"}, '
          f'input (batch, 3, {shape[0]}, {shape[1]}), opset {args.opset}) to '
          f'{args.out} in {time.perf_counter() - start:.1f} s: '
          f'{sum(ops.values())} nodes, standard ONNX operators only')

    session = ort_session(args.out, args.threads)
    inputs = torch.randn(args.verify_batch, 3, *shape)
    diffs = max_abs_diff(model, session, inputs)
    worst = max(diffs.values())
    print(f'onnxruntime vs PyTorch at batch {args.verify_batch}: max abs '
          'diff ' + ', '.join(f'{k} {v:.2e}' for k, v in diffs.items()))
    if worst > args.atol:
        raise SystemExit(f'onnxruntime differs from PyTorch by {worst:.2e} '
                         f'> --atol {args.atol:g}')

    rows = []
    if args.benchmark:
        rows = benchmark(model, session, shape, args.batch_size, args.warmup,
                         args.repeat)
        print(f'CPU, {torch.get_num_threads()} threads, median of '
              f'{args.repeat} runs')
        print(f'{"runtime":<13}{"batch":>6}{"latency ms":>12}{"img/s":>9}')
        for row in rows:
            print(f'{row["runtime"]:<13}{row["batch_size"]:>6}'
                  f'{row["latency_ms"]:>12.2f}{row["images_per_s"]:>9.1f}')
    return dict(ops=ops, max_abs_diff=diffs, benchmark=rows)


if __name__ == '__main__':
    main()
