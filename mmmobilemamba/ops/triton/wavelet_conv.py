"""Triton implementation of :func:`~mmmobilemamba.ops.wavelet_conv`.

The forward is one kernel: each program computes, for a block of
coefficient positions, the Haar subbands under every tap of the depthwise
kernel straight from the input pixels, scales the conv output and writes the
four output pixels of the patch, so neither the subbands nor the conv output
reach memory. The backward recomputes the subbands with the analysis kernel
and uses cuDNN's depthwise conv gradients.
"""
import torch
import torch.nn.functional as F
import triton
import triton.language as tl
from torch import Tensor

from ..backends import register_op
from ..wavelet_conv import wavelet_conv_torch
from . import PRIORITY
from .haar import _constant_bank, haar_analysis, haar_synthesis

BLOCK = 256


@triton.jit
def _subband(f_ptr, x00, x01, x10, x11):
    return (tl.load(f_ptr) * x00 + tl.load(f_ptr + 1) * x01 +
            tl.load(f_ptr + 2) * x10 + tl.load(f_ptr + 3) * x11)


@triton.jit(do_not_specialize=['C', 'H', 'W', 'h2', 'w2', 'total'])
def _wavelet_conv_fwd_kernel(x_ptr, wt_ptr, iwt_ptr, weight_ptr, scale_ptr,
                             out_ptr, C, H, W, h2, w2, total, K: tl.constexpr,
                             BLOCK: tl.constexpr):
    idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    valid = idx < total
    j = idx % w2
    i = (idx // w2) % h2
    bc = idx // (w2 * h2)
    c = bc % C
    image = x_ptr + bc.to(tl.int64) * H * W
    wt = wt_ptr + 16 * c
    taps = weight_ptr + 4 * c * K * K
    acc0 = tl.zeros([BLOCK], dtype=tl.float32)
    acc1 = tl.zeros([BLOCK], dtype=tl.float32)
    acc2 = tl.zeros([BLOCK], dtype=tl.float32)
    acc3 = tl.zeros([BLOCK], dtype=tl.float32)
    for dy in tl.static_range(K):
        ii = i + dy - K // 2
        row = 2 * ii
        in_rows = valid & (ii >= 0) & (ii < h2)
        top, bottom = in_rows & (row < H), in_rows & (row + 1 < H)
        for dx in tl.static_range(K):
            jj = j + dx - K // 2
            col = 2 * jj
            in_cols = (jj >= 0) & (jj < w2)
            left, right = in_cols & (col < W), in_cols & (col + 1 < W)
            src = image + row * W + col
            x00 = tl.load(src, mask=top & left, other=0.).to(tl.float32)
            x01 = tl.load(src + 1, mask=top & right, other=0.).to(tl.float32)
            x10 = tl.load(src + W, mask=bottom & left, other=0.).to(tl.float32)
            x11 = tl.load(
                src + W + 1, mask=bottom & right, other=0.).to(tl.float32)
            tap = taps + dy * K + dx
            acc0 += tl.load(tap) * _subband(wt, x00, x01, x10, x11)
            acc1 += tl.load(tap + K * K) * _subband(wt + 4, x00, x01, x10, x11)
            acc2 += tl.load(tap + 2 * K * K) * _subband(
                wt + 8, x00, x01, x10, x11)
            acc3 += tl.load(tap + 3 * K * K) * _subband(
                wt + 12, x00, x01, x10, x11)
    acc0 *= tl.load(scale_ptr + 4 * c)
    acc1 *= tl.load(scale_ptr + 4 * c + 1)
    acc2 *= tl.load(scale_ptr + 4 * c + 2)
    acc3 *= tl.load(scale_ptr + 4 * c + 3)
    iwt = iwt_ptr + 16 * c
    dst = out_ptr + bc.to(tl.int64) * H * W + 2 * i * W + 2 * j
    for patch in tl.static_range(4):
        a = patch // 2
        b = patch % 2
        pixel = (
            tl.load(iwt + patch) * acc0 + tl.load(iwt + 4 + patch) * acc1 +
            tl.load(iwt + 8 + patch) * acc2 + tl.load(iwt + 12 + patch) * acc3)
        tl.store(
            dst + a * W + b,
            pixel.to(out_ptr.dtype.element_ty),
            mask=valid & (2 * i + a < H) & (2 * j + b < W))


@torch.library.custom_op('mmmobilemamba::wavelet_conv', mutates_args=())
def fused_wavelet_conv(x: Tensor, wt_filter: Tensor, iwt_filter: Tensor,
                       weight: Tensor, scale: Tensor) -> Tensor:
    """All inputs contiguous; output (B, C, H, W) in the promoted dtype of
    ``x`` and ``scale``."""
    batch, channels, height, width = x.shape
    h2, w2 = (height + 1) // 2, (width + 1) // 2
    out = x.new_empty(x.shape, dtype=torch.promote_types(x.dtype, scale.dtype))
    total = batch * channels * h2 * w2
    _wavelet_conv_fwd_kernel[(triton.cdiv(total, BLOCK), )](
        x,
        wt_filter,
        iwt_filter,
        weight,
        scale,
        out,
        channels,
        height,
        width,
        h2,
        w2,
        total,
        K=weight.shape[-1],
        BLOCK=BLOCK)
    return out


@fused_wavelet_conv.register_fake
def _fused_wavelet_conv_fake(x, wt_filter, iwt_filter, weight, scale):
    return x.new_empty(
        x.shape, dtype=torch.promote_types(x.dtype, scale.dtype))


def _setup_context(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


def _backward(ctx, grad):
    x, wt_filter, iwt_filter, weight, scale = ctx.saved_tensors
    batch, channels, height, width = x.shape
    h2, w2 = (height + 1) // 2, (width + 1) // 2
    sub = (batch, 4 * channels, h2, w2)
    coeffs = haar_analysis(x, wt_filter, h2, w2).view(sub).float()
    grad_scaled = haar_analysis(grad.contiguous(), iwt_filter, h2,
                                w2).view(sub).float()
    weight32, padding = weight.float(), weight.shape[-1] // 2
    conv = F.conv2d(coeffs, weight32, padding=padding, groups=4 * channels)
    d_scale = (grad_scaled * conv).sum((0, 2, 3)).view_as(scale)
    grad_conv = grad_scaled * scale.float()
    d_coeffs, d_weight, _ = torch.ops.aten.convolution_backward(
        grad_conv, coeffs, weight32, None, [1, 1], [padding, padding], [1, 1],
        False, [0, 0], 4 * channels, [True, True, False])
    d_x = haar_synthesis(
        d_coeffs.view(batch, channels, 4, h2, w2), wt_filter, height, width)
    return (d_x.to(x.dtype), None, None, d_weight.to(weight.dtype),
            d_scale.to(scale.dtype))


fused_wavelet_conv.register_autograd(_backward, setup_context=_setup_context)


@register_op('wavelet_conv', 'triton', priority=PRIORITY, devices=('cuda', ))
def wavelet_conv_triton(x: Tensor, wt_filter: Tensor, iwt_filter: Tensor,
                        weight: Tensor, scale: Tensor) -> Tensor:
    channels, kernel = x.shape[1], weight.shape[-1]
    if (x.dtype == torch.float64 or kernel % 2 == 0
            or weight.shape != (4 * channels, 1, kernel, kernel)
            or scale.numel() != 4 * channels
            or not _constant_bank(wt_filter, channels)
            or not _constant_bank(iwt_filter, channels)):
        # float64, a bank that needs gradients, or shapes the kernel does
        # not cover: the reference computes it (or says what is wrong).
        return wavelet_conv_torch(x, wt_filter, iwt_filter, weight, scale)
    return fused_wavelet_conv(x.contiguous(), wt_filter.contiguous(),
                              iwt_filter.contiguous(), weight.contiguous(),
                              scale.contiguous())
