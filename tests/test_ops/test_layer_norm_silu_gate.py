"""layer_norm_silu_gate: the C kernel equals LayerNorm over channels times
SiLU(gate), for the layouts SS2D hands it and any channel count."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmobilemamba.ops import layer_norm_silu_gate, list_backends
from mmmobilemamba.ops.c_kernels.layer_norm_silu_gate import \
    layer_norm_silu_gate_c
from mmmobilemamba.ops.c_kernels.library import available

needs_c = pytest.mark.skipif(
    not available(), reason='the C kernels do not build here')


def gate_inputs(batch, channels, height, width, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, height, width, generator=gen) * 3 + 1
    # The gate half of a channels-last in_proj output, as SS2D has it.
    xz = torch.randn(batch, 2 * channels, height, width, generator=gen) * 4
    gate = xz.contiguous(memory_format=torch.channels_last)[:, channels:]
    norm = nn.LayerNorm(channels)
    with torch.no_grad():
        norm.weight.normal_(generator=gen)
        norm.bias.normal_(generator=gen)
    return x, gate, norm


def reference(x, gate, norm):
    return norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2) * F.silu(gate)


def test_registered_c_before_torch():
    assert list_backends('layer_norm_silu_gate') == ('c', 'torch')


def test_pytorch_path_is_layer_norm_times_silu():
    x, gate, norm = gate_inputs(2, 6, 3, 5)
    with torch.no_grad():
        out = layer_norm_silu_gate(x, gate.contiguous(), norm.weight,
                                   norm.bias, norm.eps)
        torch.testing.assert_close(out, reference(x, gate, norm))


@needs_c
@pytest.mark.parametrize('channels', [5, 24, 131])
@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('contiguous_gate', [False, True])
def test_c_kernel_matches(channels, channels_last, contiguous_gate):
    """Lane tails, whole vectors, either layout of x and of the gate."""
    x, gate, norm = gate_inputs(3, channels, 4, 7, seed=channels)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    if contiguous_gate:
        gate = gate.contiguous()
    with torch.no_grad():
        out = layer_norm_silu_gate_c(x, gate, norm.weight, norm.bias, norm.eps)
        torch.testing.assert_close(
            out, reference(x, gate, norm), atol=1e-5, rtol=1e-5)


@needs_c
def test_threads_do_not_change_the_result(outputs_per_thread_count):
    x, gate, norm = gate_inputs(2, 96, 12, 11)
    outputs = outputs_per_thread_count(lambda: layer_norm_silu_gate_c(
        x, gate, norm.weight, norm.bias, norm.eps))
    for out in outputs[1:]:
        assert torch.equal(out, outputs[0])


@needs_c
def test_gradients_and_half_gates_use_pytorch():
    x, gate, norm = gate_inputs(1, 8, 3, 3)
    out = layer_norm_silu_gate_c(x, gate, norm.weight, norm.bias, norm.eps)
    out.sum().backward()
    assert norm.weight.grad is not None
    with torch.no_grad():
        out = layer_norm_silu_gate_c(x, gate.double(), norm.weight, norm.bias,
                                     norm.eps)
    assert out.dtype == torch.float64
