"""C kernels for CPU inference, registered as backend ``c``.

The sources beside this file are compiled on first use with the system C
compiler (``$CC``, else ``cc``) into a cache folder
(``$MMMOBILEMAMBA_CACHE``, else ``~/.cache/mmmobilemamba``) and loaded with
:mod:`ctypes`; nothing is compiled at import. The folder is created private
(0700), and a folder or library that is not the user's own or that group or
others may write is not loaded (a warning, then the PyTorch ops). The first
build is announced; one that runs past ``$MMMOBILEMAMBA_COMPILE_TIMEOUT``
seconds (60) is given up. Without a working compiler the
backend is registered as unavailable, so the automatic choice stays on
``torch`` (with one log line saying why), and forcing ``c`` raises a clear
error.
"""
from . import (bidi_selective_scan, depthwise_conv, layer_norm_silu_gate,
               stem_conv, wavelet_conv)

__all__ = [
    'bidi_selective_scan', 'depthwise_conv', 'layer_norm_silu_gate',
    'stem_conv', 'wavelet_conv'
]
