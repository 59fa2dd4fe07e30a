"""Triton kernels for the ops, registered as backend ``triton`` on CUDA.

Importing this package compiles nothing: kernels are compiled on first use.
Without Triton the backend is registered as unavailable, so the automatic
choice stays on ``torch`` and forcing ``triton`` raises a clear error.
"""
import importlib.util

from ..backends import register_op

OPS = ('bidi_selective_scan', 'haar_dwt', 'haar_idwt', 'wavelet_conv')
#: Above the ``mamba_ssm`` (10) and ``torch`` (0) backends.
PRIORITY = 20

if importlib.util.find_spec('triton') is not None:
    from . import bidi_selective_scan, haar, wavelet_conv  # noqa: F401
else:

    def _triton_missing(*args, **kwargs):
        raise ImportError('the triton backend needs Triton: pip install '
                          'triton')

    for _op in OPS:
        register_op(
            _op,
            'triton',
            priority=PRIORITY,
            devices=('cuda', ),
            available=lambda: False)(
                _triton_missing)
