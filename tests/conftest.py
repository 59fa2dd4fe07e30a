"""Shared pytest fixtures: the official-equivalence fixture folder, the
built-in toy datasets (each generated once per test session) and a runner
over intra-op thread counts."""
import importlib.util
import os
import os.path as osp

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
FIXTURES = os.environ.get('MMMOBILEMAMBA_FIXTURES',
                          osp.join(REPO, '..', 'shared', 'fixtures'))


@pytest.fixture
def outputs_per_thread_count():
    """``run(fn)``: ``fn()`` under ``torch.no_grad()`` with 1, 2 and 3
    intra-op threads, as a list; the thread count is restored."""

    def run(fn):
        threads = torch.get_num_threads()
        outputs = []
        try:
            for n in (1, 2, 3):
                torch.set_num_threads(n)
                with torch.no_grad():
                    outputs.append(fn())
        finally:
            torch.set_num_threads(threads)
        return outputs

    return run


@pytest.fixture(scope='session')
def fixtures_dir():
    """The official fixtures (see ``../shared/fixtures/README.md``).

    Missing fixtures skip the test on a developer's machine but fail it in CI
    (``CI=true``), where they must be present.
    """
    if not osp.isdir(FIXTURES):
        message = (f'official fixtures not found at {FIXTURES}; set '
                   'MMMOBILEMAMBA_FIXTURES')
        if os.environ.get('CI', '').lower() in ('1', 'true', 'yes'):
            pytest.fail(message)
        pytest.skip(message)
    return FIXTURES


@pytest.fixture(scope='session')
def make_weights(fixtures_dir):
    """The fixtures' deterministic weight generator module."""
    spec = importlib.util.spec_from_file_location(
        'make_weights', osp.join(fixtures_dir, 'make_weights.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def fixture_file(fixtures_dir):
    """``fixture_file('t2', 'input.pt')`` loads a fixture file with
    ``weights_only`` (it is a plain dict of tensors)."""

    def load(*parts):
        return torch.load(osp.join(fixtures_dir, *parts), weights_only=True)

    return load


@pytest.fixture(scope='session')
def ops_fixture(fixture_file):
    """The official op outputs (``ops/ops.pt``)."""
    return fixture_file('ops', 'ops.pt')


@pytest.fixture
def pretrain_scope():
    """mmpretrain as the default registry scope: its inferencers build their
    pipelines in whatever scope is current, and other tests switch it."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')


@pytest.fixture(scope='session')
def det_root(tmp_path_factory):
    """The toy COCO-format detection dataset (boxes and polygon masks)."""
    from mmmobilemamba.datasets import make_toy_detection
    return make_toy_detection(str(tmp_path_factory.mktemp('toy_det')))


@pytest.fixture(scope='session')
def seg_root(tmp_path_factory):
    """The toy ADE20K-format segmentation dataset."""
    from mmmobilemamba.datasets import make_toy_segmentation
    return make_toy_segmentation(str(tmp_path_factory.mktemp('toy_seg')))


@pytest.fixture(scope='session')
def cls_root(tmp_path_factory):
    """The toy ImageNet-layout classification dataset."""
    from mmmobilemamba.datasets import make_toy_classification
    return make_toy_classification(str(tmp_path_factory.mktemp('toy_cls')))


@pytest.fixture
def no_tf32():
    """Full float32 matmuls and convolutions on CUDA for tight comparisons."""
    saved = (torch.backends.cudnn.allow_tf32,
             torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    yield
    (torch.backends.cudnn.allow_tf32,
     torch.backends.cuda.matmul.allow_tf32) = saved
