#!/usr/bin/env python
"""Time MobileMamba classifiers: throughput and peak memory, per op backend.

    python tools/analysis_tools/benchmark.py --arch t2 b1 b4 \
        --batch-size 256 --device cuda --fuse --backends torch triton \
        --dtype fp32 bf16 --cuda-graph --compile --json bench.json

Every (arch, batch size, dtype, executor, backend) is timed in the same
process, so backends can be compared side by side: ``vs first`` is each
row's throughput over that of the first backend with the same settings (with
``--backends torch triton``, the speed-up of the fast path over the
pure-PyTorch one). Executors: ``eager`` always, ``graph`` (one CUDA graph
replayed, ``--cuda-graph``) and ``compile`` (``torch.compile``,
``--compile``). ``bf16``/``fp16`` run under ``torch.autocast`` over float32
weights (training: AMP, with a gradient scaler for fp16). A training step is
forward, cross-entropy, backward and an SGD-with-momentum step, in train
mode (BN not fused). Latency is the time of one step after ``--warmup``
steps: on a GPU the mean of ``--repeat`` steps timed with CUDA events, on the
CPU the median of ``--repeat`` steps timed one by one (a shared CPU's speed
drifts); throughput is ``batch / latency``. Peak memory
is ``torch.cuda.max_memory_allocated`` (weights and inputs included).
``--profile`` adds, per row, the kernels launched by one step and the ones
taking the most GPU time.
"""
import argparse
import json
import os.path as osp
import platform
import statistics
import time

import torch
import torch.nn.functional as F
from mmpretrain import get_model

from mmmobilemamba.ops import use_backend

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RESOLUTION = dict(t2=192, t4=192, s6=224, b1=256, b2=384, b4=512)
DTYPES = dict(fp32=None, bf16=torch.bfloat16, fp16=torch.float16)
NUM_CLASSES = 1000


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
        '--dtype',
        nargs='+',
        default=['fp32'],
        choices=list(DTYPES),
        help='fp32, or autocast to bf16/fp16 over float32 weights')
    parser.add_argument(
        '--fuse', action='store_true', help='fuse BN (inference only)')
    parser.add_argument(
        '--cuda-graph',
        action='store_true',
        help='also time one captured CUDA graph replayed (inference only)')
    parser.add_argument(
        '--compile', action='store_true', help='also time torch.compile')
    parser.add_argument(
        '--profile',
        action='store_true',
        help='count the kernels of one step and list the costliest')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--repeat', type=int, default=10)
    parser.add_argument('--threads', type=int, help='torch CPU threads')
    parser.add_argument('--json', help='write the results to this file')
    args = parser.parse_args(argv)
    on_cuda = torch.device(args.device).type == 'cuda'
    if args.cuda_graph and not on_cuda:
        parser.error('--cuda-graph needs a CUDA --device')
    if args.cuda_graph and args.mode == 'train':
        parser.error('--cuda-graph times inference only; drop it or use '
                     '--mode inference')
    if args.profile and not on_cuda:
        parser.error('--profile counts CUDA kernels: use a CUDA --device')
    if args.fuse and args.mode == 'train':
        parser.error('--fuse is for inference: a training step needs BN')
    return args


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


class Step:
    """One inference forward or one training step of ``model``."""

    def __init__(self, model, inputs, args, dtype, forward):
        self.model, self.inputs, self.forward = model, inputs, forward
        self.train = args.mode == 'train'
        self.autocast = dict(
            device_type=inputs.device.type,
            dtype=dtype or torch.float32,
            enabled=dtype is not None)
        if self.train:
            self.labels = torch.randint(
                NUM_CLASSES, (inputs.shape[0], ), device=inputs.device)
            self.optimizer = torch.optim.SGD(
                model.parameters(), lr=1e-6, momentum=0.9)
            self.scaler = torch.amp.GradScaler(
                inputs.device.type, enabled=dtype == torch.float16)

    def __call__(self):
        if not self.train:
            with torch.no_grad(), torch.autocast(**self.autocast):
                return self.forward(self.inputs)
        with torch.autocast(**self.autocast):
            loss = F.cross_entropy(
                self.forward(self.inputs).float(), self.labels)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return loss


def capture_graph(step, device):
    """Capture ``step`` in a CUDA graph (after a warm-up on a side stream);
    returns the graph's replay."""
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(stream):
        step()
    torch.cuda.current_stream(device).wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph.replay


def step_seconds(fn, repeat, device):
    """Seconds per call of ``fn``: the mean of ``repeat`` calls between two
    CUDA events on a GPU, the median of ``repeat`` calls on the CPU."""
    if torch.device(device).type != 'cuda':
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)
    start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
    torch.cuda.synchronize(device)
    start.record()
    for _ in range(repeat):
        fn()
    end.record()
    torch.cuda.synchronize(device)
    return start.elapsed_time(end) / 1e3 / repeat


def kernel_profile(fn, top=8):
    """Kernels launched by one call of ``fn``: count, GPU ms, the costliest."""
    activities = [torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=activities) as prof:
        fn()
        torch.cuda.synchronize()
    kernels = [
        e for e in prof.key_averages()
        if e.device_type == torch.autograd.DeviceType.CUDA
    ]
    kernels.sort(key=lambda e: -e.self_device_time_total)
    return dict(
        kernels=sum(e.count for e in kernels),
        kernel_ms=sum(e.self_device_time_total for e in kernels) / 1e3,
        top=[
            dict(
                name=e.key[:90],
                calls=e.count,
                ms=e.self_device_time_total / 1e3) for e in kernels[:top]
        ])


def measure(model, batch, resolution, args, dtype, executor):
    device = torch.device(args.device)
    inputs = torch.randn(batch, 3, resolution, resolution, device=device)
    forward = model
    if executor == 'compile':
        torch._dynamo.reset()  # the backend is chosen while tracing
        forward = torch.compile(model)
    step = Step(model, inputs, args, dtype,
                lambda x: forward(x, mode='tensor'))
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(args.warmup):
        step()
    run = capture_graph(step, device) if executor == 'graph' else step
    seconds = step_seconds(run, args.repeat, device)
    result = dict(latency_ms=seconds * 1e3, images_per_s=batch / seconds)
    if device.type == 'cuda':
        result['peak_memory_mib'] = torch.cuda.max_memory_allocated(
            device) / 2**20
    if args.profile:
        result['profile'] = kernel_profile(run)
    return result


def print_table(args, rows):
    device = torch.device(args.device)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == 'cuda' else platform.processor() or 'cpu')
    print(f'{args.mode}, device {args.device} ({name}), fused BN: '
          f'{args.fuse}, torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads')
    print(f'{"arch":<5}{"res":>5}{"batch":>6} {"dtype":<5} {"exec":<8}'
          f'{"backend":<9}{"latency ms":>11}{"img/s":>10}{"vs first":>9}'
          f'{"peak MiB":>10}')
    for row in rows:
        memory = row.get('peak_memory_mib')
        print(f'{row["arch"]:<5}{row["resolution"]:>5}{row["batch_size"]:>6}'
              f' {row["dtype"]:<5} {row["executor"]:<8}{row["backend"]:<9}'
              f'{row["latency_ms"]:>11.2f}{row["images_per_s"]:>10.1f}'
              f'{row["speedup_vs_first_backend"]:>8.2f}x'
              f'{"-" if memory is None else f"{memory:.0f}":>10}')
    for row in rows:
        if 'profile' in row:
            prof = row['profile']
            print(f'\n{row["arch"]} {row["dtype"]} {row["executor"]} '
                  f'{row["backend"]}: {prof["kernels"]} kernels, '
                  f'{prof["kernel_ms"]:.2f} ms GPU time per step')
            for kernel in prof['top']:
                print(f'  {kernel["ms"]:8.2f} ms {kernel["calls"]:5d}x '
                      f'{kernel["name"]}')


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    executors = ['eager'
                 ] + ['graph'] * args.cuda_graph + ['compile'] * args.compile
    rows = []
    for arch in args.arch:
        resolution = args.resolution or RESOLUTION[arch]
        model = build(arch, args.device, args.mode, args.fuse)
        for batch in args.batch_size:
            for dtype in args.dtype:
                for executor in executors:
                    first = None
                    for backend in args.backends:
                        with use_backend(backend):
                            result = measure(model, batch, resolution, args,
                                             DTYPES[dtype], executor)
                        first = first or result['images_per_s']
                        rows.append(
                            dict(
                                arch=arch,
                                resolution=resolution,
                                batch_size=batch,
                                dtype=dtype,
                                executor=executor,
                                backend=backend or 'auto',
                                **result,
                                speedup_vs_first_backend=result['images_per_s']
                                / first))
        del model
        torch.cuda.empty_cache()
    print_table(args, rows)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(
                dict(
                    settings=vars(args),
                    torch=torch.__version__,
                    device=(torch.cuda.get_device_name(args.device)
                            if torch.device(args.device).type == 'cuda' else
                            platform.machine()),
                    threads=torch.get_num_threads(),
                    results=rows),
                f,
                indent=2)
    return rows


if __name__ == '__main__':
    main()
