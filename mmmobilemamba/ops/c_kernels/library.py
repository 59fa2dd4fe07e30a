"""Build (once) and load the C kernels of backend ``c``."""
import ctypes
import hashlib
import logging
import os
import os.path as osp
import platform
import re
import shlex
import signal
import stat
import subprocess
import tempfile
from functools import lru_cache
from typing import List, Optional

import torch
from mmengine.logging import print_log

from .elf import read_dynamic_section

#: Above ``torch`` (0): chosen automatically on CPU where the kernels build.
PRIORITY = 5
#: A file of an OpenMP runtime: GNU's, Intel's or LLVM's.
OPENMP_FILE = re.compile(r'/lib(?:gomp|iomp5|omp)[-.\w]*\.so[.\d]*$')
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
    or ``None`` where there is none or it cannot be told (no ``/proc``).

    Where several are mapped (a PyTorch that ships its own ``libgomp``
    beside the system's one that another library loaded), it is the one
    whose soname ``libtorch_cpu`` needs."""
    try:
        with open('/proc/self/maps') as f:
            paths = [line.split()[-1] for line in f if '/' in line]
    except OSError:
        return None
    runtimes = list(
        dict.fromkeys(path for path in paths if OPENMP_FILE.search(path)))
    if not runtimes:
        return None
    torch_cpu = next(
        (path for path in paths if osp.basename(path) == 'libtorch_cpu.so'),
        None)
    if torch_cpu is not None:
        wanted = set(read_dynamic_section(torch_cpu).needed)
        for path in runtimes:
            if (read_dynamic_section(path).soname in wanted
                    or osp.basename(path) in wanted):
                return path
    return runtimes[0]


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


#: Seconds a build may take before it is given up
#: (``$MMMOBILEMAMBA_COMPILE_TIMEOUT``).
COMPILE_TIMEOUT = 60
#: About how long a build takes, as announced.
BUILD_SECONDS = 10

_announced = False


class UntrustedCacheError(RuntimeError):
    """The cache folder or a library in it could be written by someone
    else: loading it would run their code."""


def cache_dir() -> str:
    return os.environ.get(
        'MMMOBILEMAMBA_CACHE',
        osp.join(osp.expanduser('~'), '.cache', 'mmmobilemamba'))


def compile_timeout() -> float:
    value = os.environ.get('MMMOBILEMAMBA_COMPILE_TIMEOUT', COMPILE_TIMEOUT)
    try:
        return float(value)
    except ValueError:
        raise ValueError('$MMMOBILEMAMBA_COMPILE_TIMEOUT must be a number '
                         f'of seconds, got {value!r}') from None


def check_trusted(path: str) -> None:
    """Raise :class:`UntrustedCacheError` unless ``path`` is owned by the
    current user and not writable by group or others."""
    info = os.stat(path)
    if info.st_uid != os.geteuid():
        raise UntrustedCacheError(
            f'{path} is owned by uid {info.st_uid}, not by the current user '
            f'(uid {os.geteuid()}); remove it or set $MMMOBILEMAMBA_CACHE '
            'to a folder of your own')
    if info.st_mode & 0o022:
        raise UntrustedCacheError(
            f'{path} is writable by group or others (mode '
            f'{stat.S_IMODE(info.st_mode):o}); run chmod go-w {path}')


def library_path(openmp: Optional[str]) -> str:
    """Where the library built for ``openmp`` is cached: named by a hash
    of the sources, the machine and the compiler call."""
    key = hashlib.sha256(platform.machine().encode())
    for path in SOURCES + HEADERS:
        with open(path, 'rb') as f:
            key.update(f.read())
    key.update(' '.join(compile_command([], '', openmp)).encode())
    return osp.join(cache_dir(),
                    f'mmmobilemamba_c_kernels_{key.hexdigest()[:16]}.so')


def _compile(openmp: Optional[str], target: str) -> None:
    """Build into a temporary file beside ``target`` and rename it:
    concurrent builds (e.g. several training processes) never load a
    half-written file. The first build of the process is announced; a
    compiler that runs past :func:`compile_timeout` is killed with its
    children."""
    global _announced
    timeout = compile_timeout()
    if not _announced:
        _announced = True
        print_log(
            'mmmobilemamba: compiling the CPU kernels, one time, '
            f'~{BUILD_SECONDS} s (given up after {timeout:g} s, '
            '$MMMOBILEMAMBA_COMPILE_TIMEOUT)',
            logger='current',
            level=logging.WARNING)
    fd, tmp = tempfile.mkstemp(suffix='.so', dir=osp.dirname(target))
    os.close(fd)
    try:
        command = compile_command(SOURCES, tmp, openmp)
        # A session of its own: a timeout kills the compiler's children too.
        with subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True) as process:
            try:
                out, err = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:  # it has just finished
                    pass
                process.communicate()
                raise
        if process.returncode:
            raise subprocess.CalledProcessError(process.returncode, command,
                                                out, err)
        os.chmod(tmp, 0o700)  # whatever the umask gave the linker's file
        os.replace(tmp, target)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def _build_and_load(openmp: Optional[str]) -> ctypes.CDLL:
    """Load the library built for ``openmp`` (see :func:`compile_command`),
    building it first unless the cache holds it. The cache folder is
    created private (0700); it and the library must be the user's own and
    not writable by others (:class:`UntrustedCacheError`). A cached
    library that does not load for another reason than a missing symbol
    (e.g. a truncated file) is rebuilt."""
    folder = cache_dir()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    check_trusted(folder)
    target = library_path(openmp)
    if osp.exists(target):
        check_trusted(target)
        try:
            return ctypes.CDLL(target)
        except OSError as err:
            if 'undefined symbol' in str(err):
                raise
            print_log(
                f'mmmobilemamba: the cached CPU kernels {target} do not load '
                f'({err}); rebuilding them',
                logger='current',
                level=logging.WARNING)
    _compile(openmp, target)
    return ctypes.CDLL(target)


def _warn_unavailable(reason: str) -> None:
    print_log(
        f'mmmobilemamba: the C kernels of backend \'c\' {reason}; CPU ops '
        'use the PyTorch implementation',
        logger='current',
        level=logging.WARNING)


@lru_cache(maxsize=None)
def load_library() -> Optional[ctypes.CDLL]:
    """The compiled kernels (built once per source, compiler and flags),
    or ``None`` if they cannot be built or loaded. They are parallel where
    they build and load against PyTorch's OpenMP runtime (a compiler
    without ``-fopenmp``, or one emitting calls that runtime lacks, as
    Clang's do against GNU's), else serial. A compiler that times out is
    not tried again serially."""
    openmp = openmp_runtime()
    library = error = None
    for runtime in ([openmp, None] if openmp else [None]):
        try:
            library = _build_and_load(runtime)
            break
        except UntrustedCacheError as err:
            _warn_unavailable(f'are not loaded: {err}')
            return None
        except subprocess.TimeoutExpired as err:
            _warn_unavailable(
                f'were not built: the compiler ({err.cmd[0]}) did not finish '
                f'in {err.timeout:g} s. Raise $MMMOBILEMAMBA_COMPILE_TIMEOUT '
                'or set $CC to a working C compiler')
            return None
        except (OSError, subprocess.SubprocessError) as err:
            error = err
    if library is None:
        detail = getattr(error, 'stderr', None) or b''
        _warn_unavailable(
            f'could not be built or loaded ({type(error).__name__}: {error} '
            f'{detail.decode(errors="replace")[-500:]}). Install a C '
            'compiler (e.g. gcc) or set $CC to use them')
        return None
    for name, argtypes in _ARGTYPES.items():
        kernel = getattr(library, name)
        kernel.restype = None
        kernel.argtypes = argtypes
    return library


def available() -> bool:
    return load_library() is not None
