"""Checkpoints from URLs, read with ``torch.load(..., weights_only=True)``.

mmengine 0.10.7 reads ``http(s)://``, ``torchvision://`` (``modelzoo://``),
``open-mmlab://`` (``openmmlab://``) and ``mmcls://`` checkpoints with
``torch.hub.load_state_dict_from_url``, whose ``weights_only`` defaults to
False, so a served file can run code when it is unpickled; and its download
has no timeout. Importing this package registers these schemes again
(``force=True``) with the loaders below, so every path through
:class:`~mmengine.runner.CheckpointLoader` (``init_cfg=dict(
type='Pretrained')``, ``load_checkpoint``, ``Runner.load_from``, mmpretrain's
``get_model(pretrained=...)``) reads only weights and the
:data:`~.safe_globals.CHECKPOINT_SAFE_GLOBALS`.

Downloads go to torch.hub's cache (``<torch.hub.get_dir()>/checkpoints``),
once. Connecting and each read wait at most
``MMMOBILEMAMBA_DOWNLOAD_TIMEOUT`` seconds (60 by default). A file is cached
only when complete (its ``Content-Length``) and, where its name ends in
``-<8 or more hex digits>.<ext>`` (torch.hub's convention), only when its
SHA-256 starts with those digits; a cached file with such a name is checked
on each load too.
"""
import difflib
import hashlib
import logging
import os
import os.path as osp
import pickle
import re
import socket
import uuid
from http.client import HTTPException
from typing import Optional
from urllib.error import HTTPError, URLError
from urllib.parse import urlparse
from urllib.request import Request, urlopen

import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import print_log
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from .safe_globals import checkpoint_safe_globals

TIMEOUT_ENV_VAR = 'MMMOBILEMAMBA_DOWNLOAD_TIMEOUT'
DEFAULT_TIMEOUT = 60.0
HASH_SUFFIX = re.compile(r'-([0-9a-f]{8,64})(\.[A-Za-z]\w*)+$')
_CHUNK = 1 << 20


class CheckpointDownloadError(OSError):
    """A checkpoint URL that could not be downloaded completely and
    intact."""


def download_timeout() -> float:
    """Seconds that connecting and each read may wait."""
    value = os.environ.get(TIMEOUT_ENV_VAR)
    if value is None:
        return DEFAULT_TIMEOUT
    try:
        timeout = float(value)
    except ValueError:
        timeout = -1
    if not 0 < timeout < float('inf'):
        raise ValueError(f'{TIMEOUT_ENV_VAR}={value!r} is not a number of '
                         'seconds: set it to a positive number, e.g. '
                         f'{TIMEOUT_ENV_VAR}=300, or unset it for '
                         f'{DEFAULT_TIMEOUT:g} s')
    return timeout


def _download_failed(url: str, reason: str) -> CheckpointDownloadError:
    return CheckpointDownloadError(
        f'downloading the checkpoint {url} failed: {reason}; nothing was '
        'cached. Check the URL and the network, or download the file '
        'yourself and give its local path')


def _check_hash(url: str, path: str, downloaded: bool) -> None:
    """Compare the SHA-256 of ``path`` with the prefix in ``url``'s name."""
    match = HASH_SUFFIX.search(osp.basename(urlparse(url).path))
    if match is None:
        return
    sha256 = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(_CHUNK), b''):
            sha256.update(chunk)
    digest, prefix = sha256.hexdigest(), match.group(1)
    if digest.startswith(prefix):
        return
    mismatch = (f'its SHA-256 is {digest}, but its file name says it starts '
                f'with {prefix} (the file is corrupt or not the one '
                'published)')
    if downloaded:
        raise _download_failed(url, mismatch)
    raise CheckpointDownloadError(
        f'the cached copy {path} of the checkpoint {url} is refused: '
        f'{mismatch}. Delete it to download it again')


def _download(url: str, path: str, timeout: float) -> None:
    """Download ``url`` to a temporary file next to ``path``, then move it
    there once complete and checked."""
    partial = f'{path}.{uuid.uuid4().hex}.partial'
    print_log(f'Downloading {url} to {path}', logger='current')
    try:
        # The User-Agent torch.hub sends, which model zoos accept.
        request = Request(url, headers={'User-Agent': 'torch.hub'})
        with urlopen(request, timeout=timeout) as response, \
                open(partial, 'xb') as f:
            size = response.headers.get('Content-Length')
            received = 0
            for chunk in iter(lambda: response.read(_CHUNK), b''):
                f.write(chunk)
                received += len(chunk)
        if size is not None and size.isdigit() and received != int(size):
            raise _download_failed(
                url, f'the connection closed after {received} of {size} '
                'bytes')
        _check_hash(url, partial, downloaded=True)
        os.replace(partial, path)
    except CheckpointDownloadError:
        raise
    except HTTPError as err:
        raise _download_failed(url, f'HTTP {err.code} {err.reason}') from err
    except (socket.timeout, URLError) as err:
        reason = getattr(err, 'reason', err)
        if isinstance(reason, socket.timeout):
            raise _download_failed(
                url, f'no answer within {timeout:g} s (set '
                f'{TIMEOUT_ENV_VAR}=SECONDS to wait longer)') from err
        raise _download_failed(url, str(reason)) from err
    except (HTTPException, OSError) as err:
        raise _download_failed(url, f'{type(err).__name__}: {err}') from err
    finally:
        if osp.exists(partial):
            os.remove(partial)


def download_checkpoint(url: str, model_dir: Optional[str] = None) -> str:
    """The path of ``url`` in torch.hub's checkpoint cache (or
    ``model_dir``), downloaded first if it is not there."""
    timeout = download_timeout()
    if model_dir is None:
        model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    name = osp.basename(urlparse(url).path)
    if not name:
        raise ValueError(f'the checkpoint URL {url} names no file: give the '
                         "URL of the file, e.g. 'https://host/model.pth'")
    path = osp.join(model_dir, name)
    if osp.isfile(path):
        _check_hash(url, path, downloaded=False)
    else:
        _download(url, path, timeout)
    return path


def load_weights(path: str, map_location=None, source: Optional[str] = None):
    """``torch.load(path, weights_only=True)`` with the Runner checkpoint
    globals; errors name ``source`` (the URL) and the file."""
    source = source or path
    try:
        with checkpoint_safe_globals():
            return torch.load(
                path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise pickle.UnpicklingError(
            f'the checkpoint {source} ({path}) is refused: unpickling it '
            'needs more than tensors, so it could run code, and it is read '
            'with torch.load(..., weights_only=True). Use a file that holds '
            f'weights only, e.g. torch.save(model.state_dict()). {err}'
        ) from err
    except Exception as err:
        raise RuntimeError(
            f'cannot read the checkpoint {source} ({path}): '
            f'{type(err).__name__}: {err}. A truncated or corrupt file must '
            'be deleted and downloaded again') from err


@CheckpointLoader.register_scheme(prefixes=('http://', 'https://'), force=True)
def load_from_http(filename: str,
                   map_location=None,
                   model_dir: Optional[str] = None):
    """Load a checkpoint URL; with several processes, rank 0 downloads it
    before the others read the cache (or download their own copy)."""
    rank, world_size = get_dist_info()
    error = None
    if rank == 0:
        try:
            path = download_checkpoint(filename, model_dir)
        except Exception as err:  # the other ranks must not wait forever
            error = err
    if world_size > 1:
        barrier()
    if error is not None:
        raise error
    if rank > 0:
        path = download_checkpoint(filename, model_dir)
    return load_weights(path, map_location, source=filename)


def _lookup(urls: dict, name: str, filename: str) -> str:
    if name not in urls:
        close = difflib.get_close_matches(name, list(urls), n=5)
        raise KeyError(f'{filename!r} names no known checkpoint; close '
                       f'names: {close or "none"}. Check the name or give a '
                       'URL or a local path')
    return urls[name]


@CheckpointLoader.register_scheme(
    prefixes=('modelzoo://', 'torchvision://'), force=True)
def load_from_torchvision(filename: str, map_location=None):
    """``torchvision://NAME`` (deprecated: ``modelzoo://NAME``)."""
    scheme, name = filename.split('://', 1)
    if scheme == 'modelzoo':
        print_log(
            'The URL scheme "modelzoo://" is deprecated, use '
            '"torchvision://" instead',
            logger='current',
            level=logging.WARNING)
    urls = mmengine_checkpoint.get_torchvision_models()
    return load_from_http(_lookup(urls, name, filename), map_location)


@CheckpointLoader.register_scheme(
    prefixes=('open-mmlab://', 'openmmlab://'), force=True)
def load_from_openmmlab(filename: str, map_location=None):
    """``open-mmlab://NAME``: mmengine's table, updated by
    ``$MMENGINE_HOME/open_mmlab.json``; deprecated names are renamed."""
    scheme, name = filename.split('://', 1)
    deprecated = mmengine_checkpoint.get_deprecated_model_names()
    if name in deprecated:
        print_log(
            f'{scheme}://{name} is deprecated in favor of '
            f'{scheme}://{deprecated[name]}',
            logger='current',
            level=logging.WARNING)
        name = deprecated[name]
    url = _lookup(mmengine_checkpoint.get_external_models(), name, filename)
    if url.startswith(('http://', 'https://')):
        return load_from_http(url, map_location)
    path = osp.join(mmengine_checkpoint._get_mmengine_home(), url)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{filename!r} names the local file {path}, '
                                'which does not exist')
    return load_weights(path, map_location, source=filename)


@CheckpointLoader.register_scheme(prefixes='mmcls://', force=True)
def load_from_mmcls(filename: str, map_location=None):
    """``mmcls://NAME``: an mmcls classifier's backbone weights."""
    name = filename.split('://', 1)[1]
    url = _lookup(mmengine_checkpoint.get_mmcls_models(), name, filename)
    return mmengine_checkpoint._process_mmcls_checkpoint(
        load_from_http(url, map_location))
