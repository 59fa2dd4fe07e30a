"""Build (once) and load the C kernels of backend ``c``."""
import ctypes
import hashlib
import logging
import os
import os.path as osp
import platform
import re
import shlex
import subprocess
import tempfile
from functools import lru_cache
from typing import List, Optional

import torch
from mmengine.logging import print_log

#: Above ``torch`` (0): chosen automatically on CPU where the kernels build.
PRIORITY = 5
#: The conv kernels' activation codes.
ACTIVATION_CODES = {None: 0, 'relu': 1, 'silu': 2}

SOURCES = [
    osp.join(osp.dirname(osp.abspath(__file__)), name)
    for name in ('bidi_selective_scan.c', 'depthwise_conv.c',
                 'layer_norm_silu_gate.c', 'stem_conv.c', 'wavelet_conv.c')
]
#: Included by the sources; part of the cache key.
HEADERS = [osp.join(osp.dirname(osp.abspath(__file__)), 'polynomial_math.h')]

_POINTER, _LONG = ctypes.c_void_p, ctypes.c_long
#: Every kernel's arguments: data pointers, then sizes (and eps).
_ARGTYPES = {
    'mmm_bidi_selective_scan_f32': [_POINTER] * 7 + [_LONG] * 6,
    'mmm_haar_wavelet_conv_f32': [_POINTER] * 4 + [_LONG] * 7,
    'mmm_depthwise_conv2d_f32': [_POINTER] * 5 + [_LONG] * 17,
    'mmm_stem_conv2d_f32': [_POINTER] * 5 + [_LONG] * 18,
    'mmm_layer_norm_silu_gate_f32':
    [_POINTER] * 5 + [_LONG] * 5 + [ctypes.c_float, _LONG],
}


def openmp_runtime() -> Optional[str]:
    """Path of the OpenMP runtime that PyTorch loaded (GNU, Intel or LLVM),
    or ``None`` where there is none or it cannot be told (no ``/proc``)."""
    try:
        with open('/proc/self/maps') as f:
            maps = f.read()
    except OSError:
        return None
    found = re.search(r'(/\S*/lib(?:gomp|iomp5|omp)[-.\w]*\.so[.\d]*)$', maps,
                      re.MULTILINE)
    return found.group(1) if found else None


def compile_command(sources: List[str],
                    target: str,
                    openmp: Optional[str] = None) -> List[str]:
    """The compiler call that builds ``sources`` into the shared library
    ``target``: optimised, vectorised for AVX2/FMA where PyTorch itself runs
    AVX2 or AVX-512 kernels, without ``-ffast-math`` (the kernels' exp
    relies on IEEE rounding, and a shared library built with it would switch
    the whole process to flushing denormals). With ``openmp``, the path of
    PyTorch's OpenMP runtime, the kernels' loops are parallel and linked to
    that runtime (``--as-needed`` drops the compiler's own), so they share
    PyTorch's threads."""
    compiler = shlex.split(os.environ.get('CC', 'cc'))
    flags = [
        '-O3', '-std=gnu99', '-fPIC', '-shared', '-fno-math-errno',
        '-fno-trapping-math'
    ]
    if platform.machine() in ('x86_64', 'AMD64') and \
            torch.backends.cpu.get_cpu_capability() in ('AVX2', 'AVX512'):
        flags += ['-mavx2', '-mfma']
    if openmp is None:
        flags.append('-Wno-unknown-pragmas')
        libraries = ['-lm']
    else:
        flags += ['-fopenmp', '-Wl,--as-needed']
        libraries = [openmp, '-lm']
    return compiler + flags + list(sources) + ['-o', target] + libraries


def cache_dir() -> str:
    return os.environ.get(
        'MMMOBILEMAMBA_CACHE',
        osp.join(osp.expanduser('~'), '.cache', 'mmmobilemamba'))


def _build_and_load(openmp: Optional[str]) -> ctypes.CDLL:
    """Load the library built for ``openmp`` (see :func:`compile_command`),
    building it first unless the cache holds it."""
    key = hashlib.sha256(platform.machine().encode())
    for path in SOURCES + HEADERS:
        with open(path, 'rb') as f:
            key.update(f.read())
    key.update(' '.join(compile_command([], '', openmp)).encode())
    key = key.hexdigest()[:16]
    target = osp.join(cache_dir(), f'mmmobilemamba_c_kernels_{key}.so')
    if not osp.exists(target):
        os.makedirs(cache_dir(), exist_ok=True)
        # Build beside the target and rename: concurrent builds (e.g.
        # several training processes) never load a half-written file.
        fd, tmp = tempfile.mkstemp(suffix='.so', dir=cache_dir())
        os.close(fd)
        try:
            subprocess.run(
                compile_command(SOURCES, tmp, openmp),
                check=True,
                capture_output=True,
                timeout=300)
            os.replace(tmp, target)
        finally:
            if osp.exists(tmp):
                os.remove(tmp)
    return ctypes.CDLL(target)


@lru_cache(maxsize=None)
def load_library() -> Optional[ctypes.CDLL]:
    """The compiled kernels (built once per source, compiler and flags),
    or ``None`` if they cannot be built or loaded. They are parallel where
    they build and load against PyTorch's OpenMP runtime (a compiler
    without ``-fopenmp``, or one emitting calls that runtime lacks, as
    Clang's do against GNU's), else serial."""
    openmp = openmp_runtime()
    for runtime in ([openmp, None] if openmp else [None]):
        try:
            library = _build_and_load(runtime)
            break
        except (OSError, subprocess.SubprocessError) as err:
            error = err
    else:
        detail = getattr(error, 'stderr', None) or b''
        print_log(
            'mmmobilemamba: the C kernels of backend \'c\' could not be '
            f'built or loaded ({type(error).__name__}: {error} '
            f'{detail.decode(errors="replace")[-500:]}); CPU ops use the '
            'PyTorch implementation. Install a C compiler (e.g. gcc) or '
            'set $CC to use them',
            logger='current',
            level=logging.WARNING)
        return None
    for name, argtypes in _ARGTYPES.items():
        kernel = getattr(library, name)
        kernel.restype = None
        kernel.argtypes = argtypes
    return library


def available() -> bool:
    return load_library() is not None
