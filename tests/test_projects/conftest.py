"""The toy datasets, small, once per session."""
import pytest

from mmmobilemamba.datasets import (make_toy_classification,
                                    make_toy_detection, make_toy_segmentation)


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
