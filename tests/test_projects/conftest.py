"""The toy datasets, small, once per session; the default registry scope
restored after each test."""
import pytest
from mmengine.registry import DefaultScope

from mmmobilemamba.datasets import (make_toy_classification,
                                    make_toy_detection, make_toy_segmentation)


@pytest.fixture(autouse=True)
def restore_default_scope():
    """The tests here switch the default scope to mmdet, mmseg or
    mmpretrain (the Runner does too); other tests get back the one they
    had."""
    current = DefaultScope.get_current_instance()
    scope = current.scope_name if current is not None else 'mmengine'
    with DefaultScope.overwrite_default_scope(scope):
        yield


@pytest.fixture(scope='session')
def toy_det_root(tmp_path_factory):
    return make_toy_detection(
        str(tmp_path_factory.mktemp('toy_det')), num_train=4, num_val=2)


@pytest.fixture(scope='session')
def toy_seg_root(tmp_path_factory):
    return make_toy_segmentation(
        str(tmp_path_factory.mktemp('toy_seg')), num_train=4, num_val=2)


@pytest.fixture(scope='session')
def toy_cls_root(tmp_path_factory):
    return make_toy_classification(
        str(tmp_path_factory.mktemp('toy_cls')), num_train=2, num_val=1)
