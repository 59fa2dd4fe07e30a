"""Build (once) and load the C kernels of backend ``c``."""
import ctypes
import hashlib
import logging
import os
import os.path as osp
import platform
import shlex
import subprocess
import tempfile
from functools import lru_cache
from typing import List, Optional

import torch
from mmengine.logging import print_log

SOURCE = osp.join(osp.dirname(osp.abspath(__file__)), 'bidi_selective_scan.c')


def compile_command(source: str, target: str) -> List[str]:
    """The compiler call that builds ``source`` into the shared library
    ``target``: optimised, vectorised for AVX2/FMA where PyTorch itself runs
    AVX2 or AVX-512 kernels, without ``-ffast-math`` (the kernels' exp
    relies on IEEE rounding, and a shared library built with it would switch
    the whole process to flushing denormals)."""
    compiler = shlex.split(os.environ.get('CC', 'cc'))
    flags = [
        '-O3', '-std=gnu99', '-fPIC', '-shared', '-fno-math-errno',
        '-fno-trapping-math'
    ]
    if platform.machine() in ('x86_64', 'AMD64') and \
            torch.backends.cpu.get_cpu_capability() in ('AVX2', 'AVX512'):
        flags += ['-mavx2', '-mfma']
    return compiler + flags + [source, '-o', target, '-lm']


def cache_dir() -> str:
    return os.environ.get(
        'MMMOBILEMAMBA_CACHE',
        osp.join(osp.expanduser('~'), '.cache', 'mmmobilemamba'))


@lru_cache(maxsize=None)
def load_library() -> Optional[ctypes.CDLL]:
    """The compiled kernels (built once per source, compiler and flags),
    or ``None`` if they cannot be built or loaded."""
    with open(SOURCE, 'rb') as f:
        source = f.read()
    probe = compile_command(SOURCE, '')
    key = hashlib.sha256(source + ' '.join(probe).encode() +
                         platform.machine().encode()).hexdigest()[:16]
    target = osp.join(cache_dir(), f'mmmobilemamba_c_kernels_{key}.so')
    try:
        if not osp.exists(target):
            os.makedirs(cache_dir(), exist_ok=True)
            # Build beside the target and rename: concurrent builds (e.g.
            # several training processes) never load a half-written file.
            fd, tmp = tempfile.mkstemp(suffix='.so', dir=cache_dir())
            os.close(fd)
            try:
                subprocess.run(
                    compile_command(SOURCE, tmp),
                    check=True,
                    capture_output=True,
                    timeout=300)
                os.replace(tmp, target)
            finally:
                if osp.exists(tmp):
                    os.remove(tmp)
        library = ctypes.CDLL(target)
    except (OSError, subprocess.SubprocessError) as err:
        detail = getattr(err, 'stderr', None) or b''
        print_log(
            'mmmobilemamba: the C kernels of backend \'c\' could not be '
            f'built or loaded ({type(err).__name__}: {err} '
            f'{detail.decode(errors="replace")[-500:]}); CPU ops use the '
            'PyTorch implementation. Install a C compiler (e.g. gcc) or '
            'set $CC to use them',
            logger='current',
            level=logging.WARNING)
        return None
    scan = library.mmm_bidi_selective_scan_f32
    scan.restype = None
    scan.argtypes = [ctypes.c_void_p] * 7 + [ctypes.c_long] * 8
    return library


def available() -> bool:
    return load_library() is not None
