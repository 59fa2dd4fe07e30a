"""Checkpoints from URLs: read with ``weights_only=True`` on every entry
point, downloads bounded by a timeout, complete, and checked against the
hash in their file name. A real HTTP server on 127.0.0.1 serves them."""
import copy
import hashlib
import io
import os
import os.path as osp
import pickle
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from mmmobilemamba.models import MobileMamba

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_CLS = osp.join(REPO, 'configs', 'mobilemamba', 'toy',
                   'mobilemamba-t2_1xb32_toy-cls.py')
DISTILL = osp.join(REPO, 'configs', 'mobilemamba',
                   'mobilemamba-t2-distill_8xb128_in1k.py')
SMALL = dict(
    MobileMamba.arch_zoo['t2'], embed_dims=[48, 64, 80], depths=[1, 1, 1])
TIMEOUT_VAR = 'MMMOBILEMAMBA_DOWNLOAD_TIMEOUT'
# The schemes that mmengine 0.10.7 downloads with torch.hub.
URL_SCHEMES = ('http://', 'https://', 'torchvision://', 'modelzoo://',
               'open-mmlab://', 'openmmlab://', 'mmcls://')


class Payload:
    """Unpickles as a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


class Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; a name in ``server.short`` is cut after half
    its bytes (with the full ``Content-Length``)."""

    def do_GET(self):
        name = self.path.lstrip('/')
        self.server.requests.append(name)
        data = self.server.files.get(name)
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        if name in self.server.short:
            data = data[:len(data) // 2]
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch.hub cache and mmengine home; loopback not proxied."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.setenv('MMENGINE_HOME', str(tmp_path / 'mmengine'))
    monkeypatch.setenv('no_proxy', '127.0.0.1')
    monkeypatch.setenv(TIMEOUT_VAR, '20')
    return tmp_path / 'torch' / 'hub' / 'checkpoints'


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    httpd.files, httpd.short, httpd.requests = {}, set(), []
    httpd.url = f'http://127.0.0.1:{httpd.server_port}/'
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(10)


@pytest.fixture
def small_model():
    torch.manual_seed(0)
    return MobileMamba(SMALL)


def serialized(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.fixture
def evil_url(server, small_model, tmp_path):
    """A URL serving a checkpoint whose unpickling creates the marker."""
    marker = tmp_path / 'pwned'
    server.files['evil.pth'] = serialized(
        dict(
            state_dict={
                f'backbone.{k}': v
                for k, v in small_model.state_dict().items()
            },
            payload=Payload(marker)))
    return server.url + 'evil.pth', marker


def assert_unchanged(model, before):
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_every_download_scheme_is_registered_by_the_package():
    for prefix in URL_SCHEMES:
        loader = CheckpointLoader._get_checkpoint_loader(prefix + 'x.pth')
        assert loader.__module__ == 'mmmobilemamba.utils.remote_checkpoint', (
            prefix, loader)


def build_distillation(teacher_ckpt):
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(DISTILL)
    teacher = dict(
        _delete_=True,
        type='ImageClassifier',
        backbone=dict(type='mmmobilemamba.MobileMamba', arch=SMALL),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=80))
    cfg.merge_from_dict(
        dict(
            model=dict(
                teacher=teacher,
                teacher_ckpt=teacher_ckpt,
                head=dict(num_classes=10),
                data_preprocessor=dict(cfg.data_preprocessor,
                                       num_classes=10))))
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('entry', [
    'load_checkpoint', 'pretrained_init_cfg', 'get_model', 'open-mmlab://',
    'teacher_ckpt'
])
def test_pickled_code_from_a_url_is_refused(entry, hub, evil_url, small_model,
                                            tmp_path):
    url, marker = evil_url
    if entry == 'load_checkpoint':
        model = small_model
        before = copy.deepcopy(model.state_dict())
        with pytest.raises(pickle.UnpicklingError, match=url):
            load_checkpoint(model, url, revise_keys=[(r'^backbone\.', '')])
    elif entry == 'pretrained_init_cfg':
        model = MobileMamba(
            SMALL,
            init_cfg=dict(
                type='Pretrained', checkpoint=url, prefix='backbone.'))
        before = copy.deepcopy(model.state_dict())
        with pytest.raises(RuntimeError, match=f'(?s){url}.*weights_only'):
            model.init_weights()
    elif entry == 'get_model':
        from mmpretrain import get_model
        model = None
        with pytest.raises(pickle.UnpicklingError, match=url):
            get_model(TOY_CLS, pretrained=url)
    elif entry == 'open-mmlab://':
        (tmp_path / 'mmengine').mkdir()
        (tmp_path / 'mmengine' /
         'open_mmlab.json').write_text(f'{{"evil_model": "{url}"}}')
        model = small_model
        before = copy.deepcopy(model.state_dict())
        with pytest.raises(pickle.UnpicklingError, match=url):
            load_checkpoint(model, 'open-mmlab://evil_model')
    else:
        model = build_distillation(url)
        before = copy.deepcopy(model.teacher.state_dict())
        with pytest.raises(pickle.UnpicklingError, match=url):
            model.init_weights()
        model = model.teacher
    assert not marker.exists()
    if model is not None:
        assert_unchanged(model, before)


def test_tools_test_refuses_pickled_code_from_a_url(hub, evil_url, cls_root,
                                                    tmp_path):
    url, marker = evil_url
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            p for p in (REPO, os.environ.get('PYTHONPATH')) if p))
    args = [
        sys.executable, 'tools/test.py', TOY_CLS, url, '--work-dir',
        str(tmp_path / 'work'), '--cfg-options',
        f'test_dataloader.dataset.data_root={cls_root}'
    ]
    result = subprocess.run(
        args, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert 'UnpicklingError' in output and url in output, output[-3000:]
    assert not marker.exists()


def test_a_good_file_with_its_hash_loads_once_a_wrong_hash_is_refused(
        hub, server, small_model):
    data = serialized(dict(state_dict=small_model.state_dict()))
    digest = hashlib.sha256(data).hexdigest()[:8]
    wrong = format(int(digest, 16) ^ 1, '08x')
    server.files[f'small-{digest}.pth'] = data
    server.files[f'small-{wrong}.pth'] = data
    model = MobileMamba(SMALL)
    for _ in range(2):
        load_checkpoint(model, server.url + f'small-{digest}.pth')
        assert_unchanged(model, small_model.state_dict())
    assert server.requests == [f'small-{digest}.pth']  # cached
    url = server.url + f'small-{wrong}.pth'
    with pytest.raises(OSError, match=f'(?s){url}.*SHA-256 is {digest}'):
        load_checkpoint(model, url)
    assert os.listdir(hub) == [f'small-{digest}.pth']


def test_a_server_that_never_answers_times_out(hub, monkeypatch, small_model):
    """The server accepts the connection (the kernel's backlog) and never
    answers; the load gives up after the lowered timeout."""
    monkeypatch.setenv(TIMEOUT_VAR, '1')
    listener = socket.create_server(('127.0.0.1', 0))
    url = f'http://127.0.0.1:{listener.getsockname()[1]}/silent.pth'
    outcome = []

    def load():
        try:
            load_checkpoint(small_model, url)
        except Exception as err:
            outcome.append(err)

    thread = threading.Thread(target=load, daemon=True)
    start = time.monotonic()
    thread.start()
    thread.join(30)
    elapsed = time.monotonic() - start
    listener.close()  # resets the pending connection of a hung load
    thread.join(10)
    assert elapsed < 30, 'the download waited for the silent server'
    assert len(outcome) == 1
    assert isinstance(outcome[0], OSError)
    assert url in str(outcome[0]) and 'no answer within 1 s' in str(outcome[0])
    assert not hub.exists() or os.listdir(hub) == []


def test_a_download_cut_short_is_not_cached(hub, server, small_model):
    server.files['cut.pth'] = serialized(small_model.state_dict())
    server.short.add('cut.pth')
    url = server.url + 'cut.pth'
    with pytest.raises(
            OSError, match=f'{url} failed: the connection closed '
            'after'):
        load_checkpoint(MobileMamba(SMALL), url)
    assert os.listdir(hub) == []


def test_an_http_error_names_the_url(hub, server, small_model):
    url = server.url + 'missing.pth'
    with pytest.raises(OSError, match=f'{url} failed: HTTP 404'):
        load_checkpoint(small_model, url)


@pytest.mark.parametrize('value', ['soon', '0', '-5'])
def test_a_bad_timeout_variable_is_named(value, hub, server, monkeypatch,
                                         small_model):
    server.files['small.pth'] = serialized(small_model.state_dict())
    monkeypatch.setenv(TIMEOUT_VAR, value)
    with pytest.raises(ValueError, match=f'{TIMEOUT_VAR}=.{value}. is not'):
        load_checkpoint(small_model, server.url + 'small.pth')


@pytest.mark.parametrize('name', ['torchvision://resnet5', 'mmcls://resnet5'])
def test_an_unknown_model_name_lists_close_ones(name, small_model):
    with pytest.raises(
            KeyError,
            match=r'names no known checkpoint; close names: .*'
            r'resnet50'):
        load_checkpoint(small_model, name)
