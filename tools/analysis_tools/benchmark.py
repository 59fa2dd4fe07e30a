#!/usr/bin/env python
"""Time MobileMamba classifiers: latency and throughput, per op backend.

    python tools/analysis_tools/benchmark.py --arch t2 b1 --batch-size 1 8 \
        --device cpu --fuse --json bench.json

Each (arch, backend, batch size) is timed in the same process, so backends
(``--backends torch triton``) can be compared side by side: the table gives
each row's speed relative to the first backend. Timings are the median of
``--repeat`` runs after ``--warmup`` runs.
"""
import argparse
import json
import os.path as osp
import platform
import statistics
import time

import torch
from mmpretrain import get_model

from mmmobilemamba.ops import use_backend

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RESOLUTION = dict(t2=192, t4=192, s6=224, b1=256, b2=384, b4=512)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--arch', nargs='+', default=['t2'], choices=sorted(RESOLUTION))
    parser.add_argument(
        '--resolution',
        type=int,
        help='input size (default: each arch\'s native one)')
    parser.add_argument('--batch-size', nargs='+', type=int, default=[1])
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--backends',
        nargs='+',
        default=[None],
        help='op backends to compare (default: the automatic choice)')
    parser.add_argument(
        '--mode', choices=['inference', 'train'], default='inference')
    parser.add_argument(
        '--fuse', action='store_true', help='fuse BN (inference only)')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--repeat', type=int, default=10)
    parser.add_argument('--threads', type=int, help='torch CPU threads')
    parser.add_argument('--json', help='write the results to this file')
    return parser.parse_args(argv)


def build(arch, device, mode, fuse):
    model = get_model(
        osp.join(REPO, 'configs', 'mobilemamba',
                 f'mobilemamba-{arch}_8xb128_in1k.py'),
        device=device)
    if mode == 'train':
        return model.train()
    model.eval()
    if fuse:
        model.switch_to_deploy()
    return model


def synchronize(device):
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize(device)


def time_step(model, inputs, mode, optimizer):
    """One inference forward or one training step."""
    if mode == 'inference':
        with torch.no_grad():
            model(inputs, mode='tensor')
        return
    logits = model(inputs, mode='tensor')
    logits.float().logsumexp(1).mean().backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def measure(model, batch, resolution, args):
    inputs = torch.randn(batch, 3, resolution, resolution, device=args.device)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=1e-6) if args.mode == 'train' else None
    if torch.device(args.device).type == 'cuda':
        torch.cuda.reset_peak_memory_stats(args.device)
    for _ in range(args.warmup):
        time_step(model, inputs, args.mode, optimizer)
    times = []
    for _ in range(args.repeat):
        synchronize(args.device)
        start = time.perf_counter()
        time_step(model, inputs, args.mode, optimizer)
        synchronize(args.device)
        times.append(time.perf_counter() - start)
    latency = statistics.median(times)
    result = dict(latency_ms=latency * 1e3, images_per_s=batch / latency)
    if torch.device(args.device).type == 'cuda':
        result['peak_memory_mib'] = torch.cuda.max_memory_allocated(
            args.device) / 2**20
    return result


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for arch in args.arch:
        resolution = args.resolution or RESOLUTION[arch]
        model = build(arch, args.device, args.mode, args.fuse)
        for batch in args.batch_size:
            for backend in args.backends:
                with use_backend(backend):
                    result = measure(model, batch, resolution, args)
                rows.append(
                    dict(
                        arch=arch,
                        resolution=resolution,
                        batch_size=batch,
                        backend=backend or 'auto',
                        **result))
    header = (f'{"arch":<5}{"res":>5}{"batch":>6}  {"backend":<9}'
              f'{"latency ms":>11}{"img/s":>10}{"vs first":>9}')
    print(f'{args.mode}, device {args.device}, fused BN: {args.fuse}, '
          f'torch {torch.__version__}, {torch.get_num_threads()} threads')
    print(header)
    for row in rows:
        first = next(
            r for r in rows
            if (r['arch'], r['batch_size']) == (row['arch'],
                                                row['batch_size']))
        row['speedup_vs_first_backend'] = (
            row['images_per_s'] / first['images_per_s'])
        print(f'{row["arch"]:<5}{row["resolution"]:>5}{row["batch_size"]:>6}'
              f'  {row["backend"]:<9}{row["latency_ms"]:>11.2f}'
              f'{row["images_per_s"]:>10.1f}'
              f'{row["speedup_vs_first_backend"]:>8.2f}x')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(
                dict(
                    settings=vars(args),
                    torch=torch.__version__,
                    machine=platform.machine(),
                    threads=torch.get_num_threads(),
                    results=rows),
                f,
                indent=2)
    return rows


if __name__ == '__main__':
    main()
