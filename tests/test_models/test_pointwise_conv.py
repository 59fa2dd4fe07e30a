"""PointwiseConv2d: the matmul / multiply-add kernels equal nn.Conv2d."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmobilemamba.models.layers.pointwise_conv import (ONEDNN_MIN_MACS,
                                                        ONEDNN_MIN_ROWS,
                                                        PointwiseConv2d)

CHANNELS_LAST = torch.channels_last


def reference(conv, x):
    return F.conv2d(x.contiguous(), conv.weight, conv.bias, groups=conv.groups)


@pytest.mark.parametrize('bias', [True, False])
@pytest.mark.parametrize('layout', ['contiguous', 'channels_last', 'slice'])
def test_dense_matches_conv(bias, layout):
    torch.manual_seed(0)
    conv = PointwiseConv2d(6, 10, 1, bias=bias)
    x = torch.randn(2, 9, 5, 7)
    if layout != 'contiguous':
        x = x.contiguous(memory_format=CHANNELS_LAST)
    x = x[:, 1:7] if layout == 'slice' else x[:, :6]
    out = conv(x)
    torch.testing.assert_close(out, reference(conv, x), atol=1e-5, rtol=1e-5)
    if layout != 'contiguous':  # computed as a matmul: channels-last out
        assert out.is_contiguous(memory_format=CHANNELS_LAST)


@pytest.mark.parametrize('rows,channels,onednn',
                         [(ONEDNN_MIN_ROWS - 4, 6, False),
                          (ONEDNN_MIN_ROWS, 6, True), (512, 440, False),
                          (512, 448, True)])
def test_large_channels_last_maps_go_to_onednn(rows, channels, onednn,
                                               monkeypatch):
    """From ONEDNN_MIN_ROWS rows or ONEDNN_MIN_MACS multiply-adds on, a
    channels-last map takes oneDNN's 1x1 convolution (not the matmul);
    both give the conv's output, channels-last."""
    assert (512 * 448 * 448 >= ONEDNN_MIN_MACS > 512 * 440 * 440)
    calls = []
    linear = F.linear
    monkeypatch.setattr(F, 'linear',
                        lambda *args: calls.append(1) or linear(*args))
    torch.manual_seed(0)
    conv = PointwiseConv2d(channels, channels, 1)
    x = torch.randn(2, channels, rows // 4,
                    2).contiguous(memory_format=CHANNELS_LAST)
    with torch.no_grad():
        out = conv(x)
    assert len(calls) == (not onednn)
    torch.testing.assert_close(out, reference(conv, x), atol=1e-4, rtol=1e-4)
    assert out.is_contiguous(memory_format=CHANNELS_LAST)


@pytest.mark.parametrize('bias', [True, False])
def test_per_channel_matches_conv(bias):
    torch.manual_seed(0)
    conv = PointwiseConv2d(6, 6, 1, groups=6, bias=bias)
    x = torch.randn(2, 6, 4, 3)
    torch.testing.assert_close(conv(x), reference(conv, x))


def test_gradients_match_conv():
    torch.manual_seed(0)
    conv = PointwiseConv2d(4, 3, 1)
    plain = nn.Conv2d(4, 3, 1)
    plain.load_state_dict(conv.state_dict())
    x = torch.randn(2, 4, 3, 3).contiguous(memory_format=CHANNELS_LAST)
    for module in (conv, plain):
        module(x.clone().requires_grad_()).square().sum().backward()
    for name, param in conv.named_parameters():
        torch.testing.assert_close(param.grad, plain.get_parameter(name).grad)


def test_state_dict_is_conv2d_one():
    conv = PointwiseConv2d(4, 8, 1)
    assert {
        k: v.shape
        for k, v in conv.state_dict().items()
    } == {
        k: v.shape
        for k, v in nn.Conv2d(4, 8, 1).state_dict().items()
    }


@pytest.mark.parametrize('kwargs', [
    dict(kernel_size=3),
    dict(kernel_size=1, stride=2),
    dict(kernel_size=1, groups=2)
])
def test_rejects_other_convolutions(kwargs):
    with pytest.raises(ValueError, match='dense or per-channel 1x1'):
        PointwiseConv2d(4, 4, **kwargs)
