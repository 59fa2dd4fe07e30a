"""Backend selection of mmmobilemamba.ops.backends.

Test backends are registered for a unique, test-only op name, so the real
ops are never touched; forced backends and the environment are restored
after every test.
"""
import importlib
import itertools
import logging

import pytest
import torch

from mmmobilemamba.ops import (dispatch, list_backends, register_op,
                               set_backend, use_backend)
from mmmobilemamba.ops.bidi_selective_scan import bidi_selective_scan_torch
from mmmobilemamba.ops.cross_scan import (cross_merge_bidi_torch,
                                          cross_scan_bidi_torch)
from mmmobilemamba.ops.haar import haar_dwt_torch, haar_idwt_torch
from mmmobilemamba.ops.selective_scan import selective_scan_torch
from mmmobilemamba.ops.wavelet_conv import wavelet_conv_torch

# The package re-exports the function ``dispatch`` under the module's name.
backends_module = importlib.import_module('mmmobilemamba.ops.backends')
ENV_VAR = 'MMMOBILEMAMBA_OPS_BACKEND'
CPU = torch.device('cpu')
CUDA = torch.device('cuda')
REAL_OPS = {
    'selective_scan': selective_scan_torch,
    'cross_scan_bidi': cross_scan_bidi_torch,
    'cross_merge_bidi': cross_merge_bidi_torch,
    'bidi_selective_scan': bidi_selective_scan_torch,
    'haar_dwt': haar_dwt_torch,
    'haar_idwt': haar_idwt_torch,
    'wavelet_conv': wavelet_conv_torch,
}
_counter = itertools.count()


def impl(name):
    """A distinguishable implementation."""

    def fn():
        return name

    return fn


@pytest.fixture
def clean(monkeypatch):
    """No environment override, and no forced backend left behind."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    forced = []

    def force(backend, op):
        forced.append(op)
        set_backend(backend, op)

    yield force
    for op in forced:
        set_backend(None, op)


@pytest.fixture
def test_op(clean):
    """A fresh op with backends 'slow' (prio 0), 'fast' (prio 10, any
    device), 'gpu' (prio 20, cuda only) and 'missing' (prio 30, never
    available)."""
    op = f'_test_dispatch_probe_{next(_counter)}'
    register_op(op, 'slow')(impl('slow'))
    register_op(op, 'fast', priority=10)(impl('fast'))
    register_op(op, 'gpu', priority=20, devices=('cuda', ))(impl('gpu'))
    register_op(
        op, 'missing', priority=30, available=lambda: False)(
            impl('missing'))
    yield op
    backends_module._IMPLS.pop(op, None)


def test_priority_order(test_op):
    """Backends are listed best first."""
    assert list_backends(test_op) == ('missing', 'gpu', 'fast', 'slow')


def test_automatic_choice_filters_device_and_availability(test_op):
    """CPU tensors never get the cuda-only backend; an unavailable backend
    is skipped even though it has the highest priority."""
    assert dispatch(test_op, CPU)() == 'fast'
    assert dispatch(test_op, CUDA)() == 'gpu'


def test_fallback_from_a_missing_backend_warns_once(test_op, monkeypatch):
    """Passing over the uninstalled 'missing' backend warns once per device,
    naming it, the backend used instead and how to silence it."""
    warnings = []
    monkeypatch.setattr(
        backends_module,
        'print_log',
        lambda msg, logger=None, level=None: warnings.append(msg)
        if level == logging.WARNING else None)
    for _ in range(3):
        assert dispatch(test_op, CPU)() == 'fast'
    (message, ) = warnings
    assert "['missing']" in message and "'fast'" in message
    assert f'{ENV_VAR}=fast' in message
    dispatch(test_op, CUDA)
    assert len(warnings) == 2 and "'gpu'" in warnings[1]


def test_no_warning_without_a_faster_missing_backend(clean, monkeypatch):
    op = f'_test_dispatch_probe_{next(_counter)}'
    register_op(op, 'slow')(impl('slow'))
    register_op(
        op, 'missing', priority=-1, available=lambda: False)(
            impl('missing'))
    levels = []
    monkeypatch.setattr(
        backends_module,
        'print_log',
        lambda msg, logger=None, level=None: levels.append(level))
    try:
        assert dispatch(op, CPU)() == 'slow'
        assert logging.WARNING not in levels
    finally:
        backends_module._IMPLS.pop(op, None)


def test_cuda_only_backend_never_chosen_for_cpu(clean):
    """With only a cuda backend, CPU dispatch raises instead of using it."""
    op = f'_test_dispatch_probe_{next(_counter)}'
    register_op(op, 'gpu', priority=5, devices=('cuda', ))(impl('gpu'))
    try:
        with pytest.raises(RuntimeError, match='cpu'):
            dispatch(op, CPU)
        assert dispatch(op, CUDA)() == 'gpu'
    finally:
        backends_module._IMPLS.pop(op, None)


def test_set_backend_forces_and_resets(test_op, clean):
    """set_backend picks a lower-priority backend; None restores the
    automatic choice; a per-op choice beats the all-ops one."""
    clean('slow', test_op)
    assert dispatch(test_op, CPU)() == 'slow'
    set_backend(None, test_op)
    assert dispatch(test_op, CPU)() == 'fast'
    clean('slow', '*')
    clean('fast', test_op)
    assert dispatch(test_op, CPU)() == 'fast'
    set_backend(None, test_op)
    assert dispatch(test_op, CPU)() == 'slow'


def test_forcing_unknown_backend_raises_value_error(test_op, clean):
    """The error names every registered backend."""
    clean('nope', test_op)
    with pytest.raises(ValueError) as info:
        dispatch(test_op, CPU)
    for name in ('nope', 'slow', 'fast', 'gpu', 'missing'):
        assert name in str(info.value)


def test_forcing_unavailable_backend_raises_runtime_error(test_op, clean):
    """A forced backend whose dependencies are missing does not fall back."""
    clean('missing', test_op)
    with pytest.raises(RuntimeError, match='missing'):
        dispatch(test_op, CPU)


def test_forcing_backend_on_wrong_device_raises(test_op, clean):
    """A forced cuda-only backend refuses CPU tensors."""
    clean('gpu', test_op)
    with pytest.raises(RuntimeError, match='cpu') as info:
        dispatch(test_op, CPU)
    assert "force one of ['fast', 'slow']" in str(info.value)
    assert dispatch(test_op, CUDA)() == 'gpu'


def test_unknown_op_raises_key_error(clean):
    with pytest.raises(KeyError):
        dispatch(f'_test_dispatch_unregistered_{next(_counter)}', CPU)


def test_env_var_all_ops(test_op, monkeypatch):
    """MMMOBILEMAMBA_OPS_BACKEND=name forces that backend for every op."""
    monkeypatch.setenv(ENV_VAR, ' slow ')
    assert dispatch(test_op, CPU)() == 'slow'
    monkeypatch.setenv(ENV_VAR, 'nope')
    with pytest.raises(ValueError):
        dispatch(test_op, CPU)


def test_all_ops_choice_applies_where_registered(test_op, monkeypatch):
    """An all-ops backend that some ops lack leaves those ops automatic."""
    monkeypatch.setenv(ENV_VAR, 'slow')
    assert dispatch(test_op, CPU)() == 'slow'
    assert dispatch('haar_dwt', CPU) is REAL_OPS['haar_dwt']


def test_env_var_per_op(test_op, monkeypatch, clean):
    """'op=name,op2=name' forces per op; unnamed ops choose automatically;
    set_backend takes precedence over the variable."""
    monkeypatch.setenv(ENV_VAR, f'haar_dwt=torch, {test_op} = slow')
    assert dispatch(test_op, CPU)() == 'slow'
    monkeypatch.setenv(ENV_VAR, 'haar_dwt=torch')
    assert dispatch(test_op, CPU)() == 'fast'
    monkeypatch.setenv(ENV_VAR, f'{test_op}=missing')
    with pytest.raises(RuntimeError):
        dispatch(test_op, CPU)
    clean('slow', test_op)
    assert dispatch(test_op, CPU)() == 'slow'


@pytest.mark.parametrize('op', sorted(REAL_OPS))
def test_real_ops_have_cpu_torch_backend(op, clean):
    """Every real op has a 'torch' backend that runs on CPU, both forced
    and chosen automatically."""
    assert 'torch' in list_backends(op)
    assert callable(dispatch(op, CPU))
    clean('torch', op)
    assert dispatch(op, CPU) is REAL_OPS[op]


def test_use_backend_restores_the_previous_choice(test_op, clean):
    clean('slow', test_op)
    with use_backend('fast', test_op):
        assert dispatch(test_op, CPU)() == 'fast'
    assert dispatch(test_op, CPU)() == 'slow'
    set_backend(None, test_op)
    with pytest.raises(RuntimeError):
        with use_backend('fast', test_op):
            raise RuntimeError
    assert dispatch(test_op, CPU)() == 'fast'  # automatic again


def test_environment_naming_an_unknown_op_raises(test_op, monkeypatch):
    """A misspelt op name in the variable is an error, not ignored."""
    monkeypatch.setenv(ENV_VAR, 'selctive_scan=torch')
    with pytest.raises(ValueError, match="'selctive_scan'.*selective_scan"):
        dispatch(test_op, CPU)
