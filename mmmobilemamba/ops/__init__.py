"""Ops shared by every MobileMamba model, each behind one dispatch point."""
# Importing these registers the fast CUDA backends and the CPU C kernels;
# they compile nothing.
from . import c_kernels, mamba_ssm_selective_scan, triton  # noqa: F401
from .backends import (dispatch, list_backends, register_op, set_backend,
                       use_backend)
from .bidi_selective_scan import bidi_selective_scan
from .cross_scan import cross_merge_bidi, cross_scan_bidi
from .depthwise_conv import depthwise_conv2d
from .haar import haar_dwt, haar_filter_bank, haar_idwt
from .layer_norm_silu_gate import layer_norm_silu_gate
from .selective_scan import selective_scan
from .stem_conv import stem_conv2d
from .wavelet_conv import wavelet_conv

__all__ = [
    'bidi_selective_scan', 'cross_merge_bidi', 'cross_scan_bidi',
    'depthwise_conv2d', 'dispatch', 'haar_dwt', 'haar_filter_bank',
    'haar_idwt', 'layer_norm_silu_gate', 'list_backends', 'register_op',
    'selective_scan', 'stem_conv2d', 'set_backend', 'use_backend',
    'wavelet_conv'
]
