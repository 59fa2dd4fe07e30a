"""The toy classification dataset generator."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mmmobilemamba.datasets import (CLASSES, make_toy_classification,
                                    toy_classification)

SMALL = dict(num_train=3, num_val=2)


def pixels(root):
    """{relative path: pixel array} of every image under ``root``."""
    images = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith('.png'):
                path = osp.join(folder, name)
                images[osp.relpath(path, root)] = np.asarray(Image.open(path))
    return images


def test_layout(tmp_path):
    root = str(tmp_path / 'toy')
    assert make_toy_classification(root, img_size=72, **SMALL) == root
    for split, count in (('train', 3), ('val', 2)):
        assert sorted(os.listdir(osp.join(root, split))) == list(CLASSES)
        for name in CLASSES:
            files = sorted(os.listdir(osp.join(root, split, name)))
            assert files == [f'{name}_{i:04d}.png' for i in range(count)]
    image = Image.open(osp.join(root, 'val', 'ring', 'ring_0001.png'))
    assert (image.mode, image.size) == ('RGB', (72, 72))
    with open(osp.join(root, 'classes.txt')) as f:
        assert f.read().split() == list(CLASSES)


def test_read_by_mmpretrain_custom_dataset(tmp_path):
    datasets = pytest.importorskip('mmpretrain.datasets')
    root = make_toy_classification(str(tmp_path), **SMALL)
    dataset = datasets.CustomDataset(data_root=root, data_prefix='val')
    assert dataset.CLASSES == CLASSES
    assert len(dataset) == 2 * len(CLASSES)
    assert sorted(dataset.get_gt_labels()) == sorted(
        list(range(len(CLASSES))) * 2)


def test_deterministic(tmp_path):
    first = pixels(make_toy_classification(str(tmp_path / 'a'), **SMALL))
    second = pixels(make_toy_classification(str(tmp_path / 'b'), **SMALL))
    other = pixels(
        make_toy_classification(str(tmp_path / 'c'), seed=1, **SMALL))
    assert first.keys() == second.keys() == other.keys()
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert not any(np.array_equal(first[k], other[k]) for k in first)
    # Each image depends only on its own index: more images keep the first.
    more = pixels(
        make_toy_classification(str(tmp_path / 'd'), num_train=4, num_val=2))
    assert all(np.array_equal(first[k], more[k]) for k in first)


def test_samples_vary_within_a_class(tmp_path):
    # Position, size, rotation, colours and noise change with every sample.
    images = pixels(make_toy_classification(str(tmp_path), **SMALL))
    for name in CLASSES:
        first, second = (
            images[osp.join('train', name,
                            f'{name}_{i:04d}.png')].astype(np.float64)
            for i in (0, 1))
        assert np.abs(first - second).mean() > 10


def test_idempotent(tmp_path):
    root = str(tmp_path)
    make_toy_classification(root, **SMALL)
    path = osp.join(root, 'train', 'disc', 'disc_0002.png')
    before = {p: os.stat(osp.join(root, p)).st_mtime_ns for p in pixels(root)}
    make_toy_classification(root, **SMALL)
    assert before == {
        p: os.stat(osp.join(root, p)).st_mtime_ns
        for p in pixels(root)
    }
    # A missing image or other settings regenerate; stale images go.
    original = np.asarray(Image.open(path))
    os.remove(path)
    make_toy_classification(root, **SMALL)
    assert np.array_equal(np.asarray(Image.open(path)), original)
    make_toy_classification(root, num_train=2, num_val=2)
    assert not osp.exists(path)
    assert len(pixels(root)) == 4 * len(CLASSES)


def test_cli_needs_no_toolbox(tmp_path):
    # Run the module file itself: it must need only numpy and Pillow.
    code = ('import runpy, sys; '
            f'sys.argv = ["toy", {str(tmp_path)!r}, "--num-train", "2", '
            '"--num-val", "1", "--seed", "3"]; '
            f'runpy.run_path({toy_classification.__file__!r}, '
            'run_name="__main__"); '
            'loaded = {"torch", "mmengine", "mmpretrain", "mmdet", "mmseg"}; '
            'assert not loaded & set(sys.modules), loaded & set(sys.modules)')
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path)
    expected = pixels(
        make_toy_classification(
            str(tmp_path / 'api'), num_train=2, num_val=1, seed=3))
    assert all(
        np.array_equal(image, expected[path])
        for path, image in pixels(str(tmp_path)).items()
        if not path.startswith('api'))
