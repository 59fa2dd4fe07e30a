"""stem_conv2d: the C kernel equals F.conv2d (+ activation) on the stem's
few-channel inputs, in either layout, and StemConv2d is a drop-in
nn.Conv2d."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmobilemamba.models.layers import StemConv2d
from mmmobilemamba.ops import list_backends, stem_conv2d, use_backend
from mmmobilemamba.ops.c_kernels import parallel
from mmmobilemamba.ops.c_kernels.library import available
from mmmobilemamba.ops.c_kernels.stem_conv import (MAX_IN_CHANNELS,
                                                   stem_conv2d_c)
from mmmobilemamba.ops.stem_conv import stem_conv2d_torch

needs_c = pytest.mark.skipif(
    not available(), reason='the C kernels do not build here')


def conv_inputs(batch, in_c, out_c, size, kernel=3, bias=True, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, in_c, *size, generator=gen)
    weight = torch.randn(out_c, in_c, kernel, kernel, generator=gen) / 3
    b = torch.randn(out_c, generator=gen) if bias else None
    return x, weight, b


def test_registered_c_before_torch():
    assert list_backends('stem_conv2d') == ('c', 'torch')


def test_unknown_activation_names_the_choices():
    x, weight, bias = conv_inputs(1, 3, 4, (5, 5))
    with pytest.raises(ValueError, match="'gelu'.*'relu', 'silu'"):
        stem_conv2d(x, weight, bias, activation='gelu')


@needs_c
@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('out_c', [5, 18, 25, 40])
@pytest.mark.parametrize('stride,padding', [(2, 1), (1, 1), (2, 0)])
@pytest.mark.parametrize('activation', [None, 'relu', 'silu'])
def test_matches_pytorch(channels_last, out_c, stride, padding, activation):
    """Output channels of one lane to more than four vectors; odd sizes."""
    x, weight, bias = conv_inputs(2, 3, out_c, (9, 12), seed=out_c)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    args = (x, weight, bias, stride, padding, activation)
    with torch.no_grad():
        out = stem_conv2d_c(*args)
        expected = stem_conv2d_torch(*args)
    assert out.shape == expected.shape
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


@needs_c
def test_without_bias_and_one_input_channel():
    x, weight, _ = conv_inputs(1, 1, 10, (7, 8), kernel=5, bias=False)
    args = (x, weight, None, (2, 2), (2, 1), 'relu')
    with torch.no_grad():
        torch.testing.assert_close(
            stem_conv2d_c(*args),
            stem_conv2d_torch(*args),
            atol=1e-5,
            rtol=1e-5)


@needs_c
@pytest.mark.parametrize('batch', [1, 3])
def test_threads_do_not_change_the_result(batch, outputs_per_thread_count):
    x, weight, bias = conv_inputs(batch, 3, 25, (40, 36))
    assert x.numel() * 25 // 3 >= parallel.MIN_PARALLEL_SIZE
    outputs = outputs_per_thread_count(
        lambda: stem_conv2d_c(x, weight, bias, 2, 1, 'relu'))
    for out in outputs[1:]:
        assert torch.equal(out, outputs[0])


@needs_c
def test_wide_inputs_gradients_and_float64_use_pytorch():
    x, weight, bias = conv_inputs(1, MAX_IN_CHANNELS + 1, 8, (6, 6))
    with torch.no_grad():
        assert torch.equal(
            stem_conv2d_c(x, weight, bias, 1, 1),
            stem_conv2d_torch(x, weight, bias, 1, 1))
        out = stem_conv2d_c(x.double(), weight.double(), bias.double(), 1, 1)
    assert out.dtype == torch.float64
    weight.requires_grad_()
    stem_conv2d_c(x, weight, bias, 1, 1).sum().backward()
    assert weight.grad is not None


@pytest.mark.parametrize('backend', ['torch', 'c'])
def test_layer_is_a_drop_in_conv(backend):
    if backend == 'c' and not available():
        pytest.skip('the C kernels do not build here')
    conv = nn.Conv2d(3, 12, 3, stride=2, padding=1)
    layer = StemConv2d(3, 12, 3, stride=2, padding=1)
    layer.load_state_dict(conv.state_dict())
    fused = StemConv2d(3, 12, 3, 2, 1, activation='relu')
    fused.load_state_dict(conv.state_dict())
    x = torch.randn(2, 3, 17, 16)
    with torch.no_grad(), use_backend(backend, 'stem_conv2d'):
        torch.testing.assert_close(layer(x), conv(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(
            fused(x), F.relu(conv(x)), atol=1e-5, rtol=1e-5)
    assert "activation='relu'" in repr(fused)


@pytest.mark.parametrize('kwargs', [
    dict(groups=3),
    dict(dilation=2),
    dict(padding='same'),
    dict(padding_mode='reflect'),
    dict(activation='gelu'),
])
def test_layer_refuses_what_it_cannot_compute(kwargs):
    with pytest.raises(ValueError, match='use nn.Conv2d otherwise'):
        StemConv2d(3, 6, 3, **kwargs)
