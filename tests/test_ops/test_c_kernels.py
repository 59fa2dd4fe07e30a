"""Backend 'c': built on first use, equal to the PyTorch ops, split over
threads without changing a bit of the result, and out of the way where it
cannot be built."""
import ctypes.util
import json
import os
import subprocess
import sys

import pytest
import torch
from test_bidi_selective_scan import make_inputs

from mmmobilemamba.ops import (bidi_selective_scan, dispatch, haar_filter_bank,
                               list_backends, use_backend)
from mmmobilemamba.ops.bidi_selective_scan import bidi_selective_scan_torch
from mmmobilemamba.ops.c_kernels import parallel
from mmmobilemamba.ops.c_kernels.bidi_selective_scan import \
    bidi_selective_scan_c
from mmmobilemamba.ops.c_kernels.depthwise_conv import depthwise_conv2d_c
from mmmobilemamba.ops.c_kernels.layer_norm_silu_gate import \
    layer_norm_silu_gate_c
from mmmobilemamba.ops.c_kernels.library import (OPENMP_FILE, available,
                                                 compile_command, load_library,
                                                 openmp_runtime)
from mmmobilemamba.ops.c_kernels.wavelet_conv import wavelet_conv_c
from mmmobilemamba.ops.depthwise_conv import depthwise_conv2d_torch
from mmmobilemamba.ops.layer_norm_silu_gate import layer_norm_silu_gate_torch
from mmmobilemamba.ops.wavelet_conv import wavelet_conv_torch

CPU = torch.device('cpu')
needs_c = pytest.mark.skipif(
    not available(), reason='the C kernels do not build here')


@pytest.fixture
def no_c_kernels(monkeypatch, tmp_path):
    """A machine without a C compiler (and no kernels built before)."""
    monkeypatch.setenv('CC', str(tmp_path / 'no-such-compiler'))
    monkeypatch.setenv('MMMOBILEMAMBA_CACHE', str(tmp_path / 'cache'))
    monkeypatch.delenv('MMMOBILEMAMBA_OPS_BACKEND', raising=False)
    load_library.cache_clear()
    yield
    load_library.cache_clear()


@pytest.mark.parametrize('op', ['bidi_selective_scan', 'wavelet_conv'])
def test_registered_between_triton_and_torch(op):
    assert list_backends(op)[:3] == ('triton', 'c', 'torch')


def test_compile_command_keeps_ieee_math():
    """No -ffast-math: the kernels' exp rounds with an added constant, and
    a library built with it would make the process flush denormals."""
    command = compile_command(['k.c', 'w.c'], 'k.so')
    assert '-O3' in command
    assert command[-5:] == ['k.c', 'w.c', '-o', 'k.so', '-lm']
    assert not any('fast-math' in flag for flag in command)


def test_without_compiler_the_pytorch_path_runs(no_c_kernels):
    assert not available()
    assert dispatch('bidi_selective_scan', CPU) is bidi_selective_scan_torch
    assert dispatch('wavelet_conv', CPU) is wavelet_conv_torch
    assert dispatch('depthwise_conv2d', CPU) is depthwise_conv2d_torch
    assert dispatch('layer_norm_silu_gate', CPU) is layer_norm_silu_gate_torch
    with use_backend('c'):
        for op in ('bidi_selective_scan', 'depthwise_conv2d',
                   'layer_norm_silu_gate', 'wavelet_conv'):
            with pytest.raises(RuntimeError, match="backend 'c'"):
                dispatch(op, CPU)


@needs_c
def test_chosen_on_cpu(monkeypatch):
    monkeypatch.delenv('MMMOBILEMAMBA_OPS_BACKEND', raising=False)
    assert dispatch('bidi_selective_scan', CPU) is bidi_selective_scan_c
    assert dispatch('wavelet_conv', CPU) is wavelet_conv_c
    assert dispatch('depthwise_conv2d', CPU) is depthwise_conv2d_c
    assert dispatch('layer_norm_silu_gate', CPU) is layer_norm_silu_gate_c


@needs_c
@pytest.mark.parametrize('batch', [1, 3])
def test_threads_do_not_change_the_result(batch, outputs_per_thread_count):
    """Batch items (batch >= threads) or channel ranges (batch < threads)
    on 1 to 3 threads give bit-identical outputs."""
    inputs = make_inputs(batch=batch, channels=160, height=9, width=13)
    assert inputs['x'].numel() >= parallel.MIN_PARALLEL_SIZE
    outputs = outputs_per_thread_count(lambda: bidi_selective_scan_c(**inputs))
    for out in outputs[1:]:
        assert torch.equal(out, outputs[0])
    with torch.no_grad(), use_backend('torch', 'bidi_selective_scan'):
        expected = bidi_selective_scan(**inputs)
    torch.testing.assert_close(outputs[0], expected, atol=1e-5, rtol=1e-5)


def test_work_is_split_by_item_or_by_channel_vectors():
    assert parallel.channel_chunk(4, 160, 2) == 160
    assert parallel.channel_chunk(3, 160, 2) == 80
    assert parallel.channel_chunk(1, 160, 3) == 56
    assert parallel.channel_chunk(1, 1000, 1) == 1000
    assert parallel.num_threads(parallel.MIN_PARALLEL_SIZE - 1) == 1
    assert parallel.num_threads(
        parallel.MIN_PARALLEL_SIZE) == torch.get_num_threads()


#: Run in a fresh interpreter: maps a decoy OpenMP runtime first (as images
#: whose other packages bring their own do), then torch, then the kernels.
SHARED_RUNTIME_PROBE = """
import ctypes, json, sys
if sys.argv[1]:
    ctypes.CDLL(sys.argv[1])
import torch
from mmmobilemamba.ops.c_kernels.elf import read_dynamic_section
from mmmobilemamba.ops.c_kernels.library import (OPENMP_FILE, load_library,
                                                 openmp_runtime)
def mapped():
    with open('/proc/self/maps') as f:
        return sorted({line.split()[-1] for line in f
                       if OPENMP_FILE.search(line.strip())})
before, runtime = mapped(), openmp_runtime()
library = load_library()
print(json.dumps(dict(
    before=before, after=mapped(), runtime=runtime,
    soname=read_dynamic_section(runtime).soname,
    needed=read_dynamic_section(library._name).needed)))
"""


@needs_c
@pytest.mark.skipif(
    openmp_runtime() is None, reason='PyTorch loaded no OpenMP runtime')
def test_kernels_share_pytorch_openmp_runtime(tmp_path):
    """Linked to the runtime PyTorch uses (not the compiler's own copy, nor
    another one mapped in the process), the kernels' loops run on PyTorch's
    threads: loading them maps no runtime more."""
    runtime = openmp_runtime()
    command = compile_command(['k.c'], 'k.so', runtime)
    assert '-fopenmp' in command and runtime in command
    decoy = ctypes.util.find_library('gomp') or ''
    env = dict(os.environ, MMMOBILEMAMBA_CACHE=str(tmp_path / 'cache'))
    result = subprocess.run(
        [sys.executable, '-c', SHARED_RUNTIME_PROBE, decoy],
        capture_output=True,
        text=True,
        env=env,
        timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe['after'] == probe['before']
    assert probe['runtime'] in probe['after']
    runtimes = [
        name for name in probe['needed'] if OPENMP_FILE.search('/' + name)
    ]
    assert runtimes == [probe['soname']]


@needs_c
@pytest.mark.skipif(
    openmp_runtime() is None, reason='PyTorch loaded no OpenMP runtime')
def test_a_compiler_without_openmp_builds_serial_kernels(
        monkeypatch, tmp_path):
    compiler = tmp_path / 'cc'
    compiler.write_text(
        '#!/bin/sh\n'
        'for a in "$@"; do [ "$a" = -fopenmp ] && exit 1; done\n'
        f'exec {os.environ.get("CC", "cc")} "$@"\n')
    compiler.chmod(0o755)
    monkeypatch.setenv('CC', str(compiler))
    monkeypatch.setenv('MMMOBILEMAMBA_CACHE', str(tmp_path / 'cache'))
    load_library.cache_clear()
    try:
        assert load_library() is not None
        inputs = make_inputs(batch=1, channels=160, height=9, width=13)
        with torch.no_grad():
            torch.testing.assert_close(
                bidi_selective_scan_c(**inputs),
                bidi_selective_scan_torch(**inputs),
                atol=1e-5,
                rtol=1e-5)
    finally:
        load_library.cache_clear()


@needs_c
def test_gradients_go_through_the_pytorch_path():
    inputs = {
        k: v.requires_grad_()
        for k, v in make_inputs(height=4, width=5).items()
    }
    out = bidi_selective_scan_c(**inputs)
    assert out.grad_fn is not None
    out.sum().backward()
    assert all(v.grad is not None for v in inputs.values())


def wavelet_inputs(batch, channels, height, width, kernel, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, height, width, generator=gen)
    bank = haar_filter_bank(channels)
    weight = torch.randn(4 * channels, 1, kernel, kernel, generator=gen)
    scale = torch.randn(1, 4 * channels, 1, 1, generator=gen)
    return [x, bank, bank.clone(), weight / kernel, scale]


@needs_c
@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('height,width', [(1, 1), (2, 3), (5, 4), (7, 9),
                                          (12, 12)])
@pytest.mark.parametrize('kernel', [3, 5, 7])
def test_wavelet_conv_matches_pytorch(height, width, kernel, channels_last):
    """Odd and even sizes (padding and crop), kernels wider than the
    subband map, either memory format."""
    inputs = wavelet_inputs(2, 12, height, width, kernel, seed=height)
    if channels_last:
        inputs[0] = inputs[0].contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        out = wavelet_conv_c(*inputs)
        expected = wavelet_conv_torch(*inputs)
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


@needs_c
def test_wavelet_conv_other_banks_and_gradients_use_pytorch():
    x, bank, _, weight, scale = wavelet_inputs(1, 3, 6, 5, 3)
    other = bank * 2
    with torch.no_grad():
        torch.testing.assert_close(
            wavelet_conv_c(x, other, bank, weight, scale),
            wavelet_conv_torch(x, other, bank, weight, scale),
            rtol=0,
            atol=0)
    weight.requires_grad_()
    out = wavelet_conv_c(x, bank, bank, weight, scale)
    out.sum().backward()
    assert weight.grad is not None


@needs_c
@pytest.mark.parametrize('batch', [1, 3])
def test_wavelet_conv_threads_do_not_change_the_result(
        batch, outputs_per_thread_count):
    inputs = wavelet_inputs(batch, 160, 11, 12, 5)
    assert inputs[0].numel() >= parallel.MIN_PARALLEL_SIZE
    outputs = outputs_per_thread_count(lambda: wavelet_conv_c(*inputs))
    for out in outputs[1:]:
        assert torch.equal(out, outputs[0])
