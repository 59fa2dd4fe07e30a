"""Backend 'c': built on first use, split over threads without changing a
bit of the result, and out of the way where it cannot be built."""
import pytest
import torch
from test_bidi_selective_scan import make_inputs

from mmmobilemamba.ops import (bidi_selective_scan, dispatch, list_backends,
                               use_backend)
from mmmobilemamba.ops.bidi_selective_scan import bidi_selective_scan_torch
from mmmobilemamba.ops.c_kernels import bidi_selective_scan as c_scan
from mmmobilemamba.ops.c_kernels.bidi_selective_scan import (
    MIN_PARALLEL_SIZE, bidi_selective_scan_c)
from mmmobilemamba.ops.c_kernels.library import (available, compile_command,
                                                 load_library)

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


def test_registered_between_triton_and_torch():
    backends = list_backends('bidi_selective_scan')
    assert backends[:3] == ('triton', 'c', 'torch')


def test_compile_command_keeps_ieee_math():
    """No -ffast-math: the kernels' exp rounds with an added constant, and
    a library built with it would make the process flush denormals."""
    command = compile_command('k.c', 'k.so')
    assert '-O3' in command and command[-4:] == ['k.c', '-o', 'k.so', '-lm']
    assert not any('fast-math' in flag for flag in command)


def test_without_compiler_the_pytorch_path_runs(no_c_kernels):
    assert not available()
    assert dispatch('bidi_selective_scan', CPU) is bidi_selective_scan_torch
    with use_backend('c', 'bidi_selective_scan'):
        with pytest.raises(RuntimeError, match="backend 'c'"):
            dispatch('bidi_selective_scan', CPU)


@needs_c
def test_chosen_on_cpu(monkeypatch):
    monkeypatch.delenv('MMMOBILEMAMBA_OPS_BACKEND', raising=False)
    assert dispatch('bidi_selective_scan', CPU) is bidi_selective_scan_c


@needs_c
@pytest.mark.parametrize('batch', [1, 3])
def test_threads_do_not_change_the_result(batch, monkeypatch):
    """Batch items (batch >= threads) or channel ranges (batch < threads)
    on 1 to 3 threads give bit-identical outputs."""
    inputs = make_inputs(batch=batch, channels=160, height=9, width=13)
    assert inputs['x'].numel() >= MIN_PARALLEL_SIZE
    parts, split = [], c_scan._partition

    def partition(*args):
        parts.append(split(*args))
        return parts[-1]

    monkeypatch.setattr(c_scan, '_partition', partition)
    threads = torch.get_num_threads()
    outputs = []
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            with torch.no_grad(), use_backend('c', 'bidi_selective_scan'):
                outputs.append(bidi_selective_scan(**inputs))
    finally:
        torch.set_num_threads(threads)
    assert [len(p) for p in parts] == [2, 3]
    for out in outputs[1:]:
        assert torch.equal(out, outputs[0])
    with torch.no_grad(), use_backend('torch', 'bidi_selective_scan'):
        expected = bidi_selective_scan(**inputs)
    torch.testing.assert_close(outputs[0], expected, atol=1e-5, rtol=1e-5)


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
