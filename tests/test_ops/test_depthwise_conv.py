"""depthwise_conv2d: the C kernel equals F.conv2d (+ activation) for every
layout, size, stride and activation the models use, and DepthwiseConv2d is
a drop-in nn.Conv2d."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmobilemamba.models.layers import DepthwiseConv2d
from mmmobilemamba.ops import depthwise_conv2d, list_backends, use_backend
from mmmobilemamba.ops.c_kernels import parallel
from mmmobilemamba.ops.c_kernels.depthwise_conv import depthwise_conv2d_c
from mmmobilemamba.ops.c_kernels.library import available
from mmmobilemamba.ops.depthwise_conv import depthwise_conv2d_torch

needs_c = pytest.mark.skipif(
    not available(), reason='the C kernels do not build here')


def conv_inputs(batch, channels, size, kernel, bias=True, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, *size, generator=gen)
    weight = torch.randn(channels, 1, kernel, kernel, generator=gen) / kernel
    b = torch.randn(channels, generator=gen) if bias else None
    return x, weight, b


def test_registered_c_before_torch():
    assert list_backends('depthwise_conv2d') == ('c', 'torch')


def test_unknown_activation_names_the_choices():
    x, weight, bias = conv_inputs(1, 4, (5, 5), 3)
    with pytest.raises(ValueError, match="'gelu'.*'relu', 'silu'"):
        depthwise_conv2d(x, weight, bias, activation='gelu')


@needs_c
@pytest.mark.parametrize('layout', ['contiguous', 'channels_last', 'slice'])
@pytest.mark.parametrize('channels', [5, 40, 72])
@pytest.mark.parametrize('kernel,stride,padding', [(3, 1, 1), (3, 2, 1),
                                                   (5, 1, 2), (7, 1, 3),
                                                   (3, 1, 0), (7, 2, 3)])
@pytest.mark.parametrize('activation', [None, 'relu', 'silu'])
def test_matches_pytorch(layout, channels, kernel, stride, padding,
                         activation):
    """Channel counts with a lane tail, whole vectors and whole 32-channel
    groups; maps smaller than the kernel; a channel slice of a
    channels-last map read in place."""
    x, weight, bias = conv_inputs(
        2, channels, (6, 9) if channels == 40 else (4, 3), kernel, seed=kernel)
    if layout == 'channels_last':
        x = x.contiguous(memory_format=torch.channels_last)
    elif layout == 'slice':
        wide = torch.cat([x, x.flip(1)],
                         1).contiguous(memory_format=torch.channels_last)
        x = wide[:, channels // 2:channels // 2 + channels]
        assert x.stride(1) == 1 and not x.is_contiguous(
            memory_format=torch.channels_last)
    args = (x, weight, bias, stride, padding, activation)
    with torch.no_grad():
        out = depthwise_conv2d_c(*args)
        expected = depthwise_conv2d_torch(*args)
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


@needs_c
def test_without_bias_and_with_tuples():
    x, weight, _ = conv_inputs(1, 12, (7, 8), 5, bias=False)
    args = (x, weight, None, (2, 2), (2, 1), 'relu')
    with torch.no_grad():
        torch.testing.assert_close(
            depthwise_conv2d_c(*args),
            depthwise_conv2d_torch(*args),
            atol=1e-5,
            rtol=1e-5)


@needs_c
@pytest.mark.parametrize('layout', ['contiguous', 'channels_last', 'slice'])
@pytest.mark.parametrize('activation', [None, 'silu'])
def test_residual_is_added_in_the_same_pass(layout, activation):
    x, weight, bias = conv_inputs(2, 45, (5, 6), 3)
    if layout == 'channels_last':
        x = x.contiguous(memory_format=torch.channels_last)
    elif layout == 'slice':
        x = torch.cat([x, x],
                      1).contiguous(memory_format=torch.channels_last)[:, 3:48]
    args = (x, weight, bias, 1, 1, activation, True)
    with torch.no_grad():
        out = depthwise_conv2d_c(*args)
        expected = x + depthwise_conv2d_torch(*args[:-1])
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('backend', ['torch', 'c'])
def test_residual_needs_the_input_shape(backend):
    if backend == 'c' and not available():
        pytest.skip('the C kernels do not build here')
    x, weight, bias = conv_inputs(1, 4, (6, 6), 3)
    with torch.no_grad(), use_backend(backend, 'depthwise_conv2d'), \
            pytest.raises(ValueError, match='use stride 1 and padding k // 2'):
        depthwise_conv2d(x, weight, bias, 2, 1, residual=True)


@needs_c
@pytest.mark.parametrize('batch', [1, 3])
def test_threads_do_not_change_the_result(batch, outputs_per_thread_count):
    x, weight, bias = conv_inputs(batch, 100, (13, 11), 3)
    assert x.numel() >= parallel.MIN_PARALLEL_SIZE
    outputs = outputs_per_thread_count(
        lambda: depthwise_conv2d_c(x, weight, bias, 1, 1))
    for out in outputs[1:]:
        assert torch.equal(out, outputs[0])


@needs_c
def test_gradients_float64_and_unequal_strides_use_pytorch():
    x, weight, bias = conv_inputs(1, 8, (6, 6), 3)
    with torch.no_grad():
        out = depthwise_conv2d_c(x, weight, bias, (1, 2), 1)
        assert torch.equal(out, F.conv2d(x, weight, bias, (1, 2), 1, groups=8))
        out = depthwise_conv2d_c(x.double(), weight.double(), bias.double(), 1,
                                 1)
        assert out.dtype == torch.float64
    weight.requires_grad_()
    out = depthwise_conv2d_c(x, weight, bias, 1, 1, 'silu')
    out.sum().backward()
    assert weight.grad is not None


@pytest.mark.parametrize('backend', ['torch', 'c'])
def test_layer_is_a_drop_in_conv(backend):
    if backend == 'c' and not available():
        pytest.skip('the C kernels do not build here')
    conv = nn.Conv2d(16, 16, 5, stride=2, padding=2, groups=16)
    layer = DepthwiseConv2d(16, 16, 5, stride=2, padding=2, groups=16)
    layer.load_state_dict(conv.state_dict())
    fused = DepthwiseConv2d(16, 16, 5, 2, 2, groups=16, activation='silu')
    fused.load_state_dict(conv.state_dict())
    x = torch.randn(2, 16, 9, 10)
    with torch.no_grad(), use_backend(backend, 'depthwise_conv2d'):
        torch.testing.assert_close(layer(x), conv(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(
            fused(x), F.silu(conv(x)), atol=1e-5, rtol=1e-5)
    assert "activation='silu'" in repr(fused)


@pytest.mark.parametrize('kwargs', [
    dict(in_channels=4, out_channels=8, groups=4),
    dict(in_channels=4, out_channels=4, groups=1),
    dict(in_channels=4, out_channels=4, groups=4, dilation=2),
    dict(in_channels=4, out_channels=4, groups=4, padding='same'),
    dict(in_channels=4, out_channels=4, groups=4, padding_mode='reflect'),
    dict(in_channels=4, out_channels=4, groups=4, activation='gelu'),
])
def test_layer_refuses_what_it_cannot_compute(kwargs):
    with pytest.raises(ValueError, match='use nn.Conv2d otherwise'):
        DepthwiseConv2d(kernel_size=3, **kwargs)
