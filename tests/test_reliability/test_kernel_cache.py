"""The C kernels' cache: a private folder, nothing loaded that someone
else could have written, a corrupt library rebuilt, the first build
announced and a hung compiler given up after one short timeout."""
import logging
import os
import shutil
import stat
import time

import pytest
import torch
from mmengine.logging import MMLogger

from mmmobilemamba.ops import dispatch
from mmmobilemamba.ops.c_kernels import library
from mmmobilemamba.ops.c_kernels.library import (available, library_path,
                                                 load_library, openmp_runtime)
from mmmobilemamba.ops.layer_norm_silu_gate import layer_norm_silu_gate_torch

pytestmark = pytest.mark.skipif(
    not available(), reason='the C kernels do not build here')


class Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def logs():
    records = Records()
    logger = MMLogger.get_current_instance()
    logger.addHandler(records)
    yield records.messages
    logger.removeHandler(records)


@pytest.fixture(scope='module')
def built():
    """A library built for this machine (the default cache's)."""
    load_library.cache_clear()
    path = load_library()._name
    load_library.cache_clear()
    return path


@pytest.fixture
def cache(monkeypatch, tmp_path, built):
    """An empty cache folder of its own; ``cache.fill()`` copies the built
    library into it under its cache name."""
    folder = tmp_path / 'cache'
    monkeypatch.setenv('MMMOBILEMAMBA_CACHE', str(folder))
    monkeypatch.delenv('MMMOBILEMAMBA_OPS_BACKEND', raising=False)
    load_library.cache_clear()

    class Cache:
        path = folder
        target = library_path(openmp_runtime())

        @staticmethod
        def fill(mode=0o700):
            folder.mkdir(mode=0o700, exist_ok=True)
            shutil.copyfile(built, Cache.target)
            os.chmod(Cache.target, mode)

    yield Cache
    load_library.cache_clear()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_folder_and_library_are_private_under_umask_000(cache):
    old = os.umask(0)
    try:
        assert load_library() is not None
    finally:
        os.umask(old)
    assert mode(cache.path) == 0o700
    assert mode(cache.target) & 0o077 == 0


@pytest.mark.parametrize('what', ['folder', 'library'])
def test_group_or_other_writable_is_refused(cache, logs, what):
    cache.fill()
    path = cache.path if what == 'folder' else cache.target
    os.chmod(path, 0o777 if what == 'folder' else 0o766)
    assert load_library() is None
    warning, = [m for m in logs if 'writable by group or others' in m]
    assert str(path) in warning and 'chmod go-w' in warning
    assert 'PyTorch implementation' in warning
    assert dispatch('layer_norm_silu_gate',
                    torch.device('cpu')) is layer_norm_silu_gate_torch


def test_not_owned_by_the_current_user_is_refused(cache, logs, monkeypatch):
    cache.fill()
    uid = os.geteuid()
    monkeypatch.setattr(os, 'geteuid', lambda: uid + 1)
    assert load_library() is None
    assert any('not by the current user' in m for m in logs)


@pytest.mark.parametrize('content', [b'', b'\x7fELF truncated'])
def test_corrupt_library_is_rebuilt(cache, logs, content):
    cache.path.mkdir(mode=0o700)
    with open(cache.target, 'wb') as f:
        f.write(content)
    library = load_library()
    # The very library the cache names (not the serial fallback's).
    assert library is not None and library._name == cache.target
    assert os.path.getsize(cache.target) > 1000
    assert any('do not load' in m and 'rebuilding' in m for m in logs)


def test_first_build_is_announced_once(cache, logs, tmp_path, monkeypatch):
    monkeypatch.setattr(library, '_announced', False)  # a fresh process
    assert load_library() is not None
    load_library.cache_clear()
    monkeypatch.setenv('MMMOBILEMAMBA_CACHE', str(tmp_path / 'other'))
    assert load_library() is not None  # a second build, silent
    announced = [m for m in logs if 'compiling the CPU kernels' in m]
    assert len(announced) == 1
    assert 'one time, ~' in announced[0]


def test_cached_library_is_loaded_without_a_build(cache, logs):
    cache.fill()
    assert load_library()._name == cache.target
    assert not any('compiling' in m for m in logs)


def test_hung_compiler_is_given_up_after_one_short_timeout(
        cache, logs, tmp_path, monkeypatch):
    calls = tmp_path / 'calls'
    compiler = tmp_path / 'hung-cc'
    compiler.write_text(f'#!/bin/sh\necho run >> {calls}\nsleep 60\n')
    compiler.chmod(0o755)
    monkeypatch.setenv('CC', str(compiler))
    monkeypatch.setenv('MMMOBILEMAMBA_COMPILE_TIMEOUT', '1')
    start = time.monotonic()
    assert load_library() is None
    assert time.monotonic() - start < 10
    assert calls.read_text() == 'run\n'  # not tried again serially
    warning, = [m for m in logs if 'did not finish' in m]
    assert 'in 1 s' in warning and 'MMMOBILEMAMBA_COMPILE_TIMEOUT' in warning
    assert not list(cache.path.iterdir())  # no partial file left
