"""The toy segmentation dataset generator."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mmmobilemamba.datasets import (SEG_CLASSES, SEG_PALETTE,
                                    make_toy_segmentation, toy_segmentation)

SMALL = dict(num_train=6, num_val=3)
SPLITS = (('training', 6), ('validation', 3))


def files(root):
    """{relative path: pixel array} of every image and label map."""
    arrays = {}
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith(('.jpg', '.png')):
                path = osp.join(folder, name)
                arrays[osp.relpath(path, root)] = np.asarray(Image.open(path))
    return arrays


def test_layout(tmp_path):
    root = str(tmp_path / 'toy')
    assert make_toy_segmentation(root, **SMALL) == root
    assert len(SEG_PALETTE) == len(SEG_CLASSES) == 5
    for split, count in SPLITS:
        stems = [f'toy_{i:04d}' for i in range(count)]
        images = sorted(os.listdir(osp.join(root, 'images', split)))
        labels = sorted(os.listdir(osp.join(root, 'annotations', split)))
        assert images == [stem + '.jpg' for stem in stems]
        assert labels == [stem + '.png' for stem in stems]
        for stem in stems:
            image = Image.open(osp.join(root, 'images', split, stem + '.jpg'))
            label = Image.open(
                osp.join(root, 'annotations', split, stem + '.png'))
            assert image.mode == 'RGB' and label.mode == 'L'
            assert image.size == label.size
            assert image.size[::-1] in toy_segmentation.SIZES


def test_label_values(tmp_path):
    arrays = files(make_toy_segmentation(str(tmp_path), **SMALL))
    labels = [a for path, a in arrays.items() if path.endswith('.png')]
    values = np.unique(np.concatenate([a.ravel() for a in labels]))
    # 0 ("other") and every class 1..K occur, nothing else.
    assert values.tolist() == list(range(len(SEG_CLASSES) + 1))
    for label in labels:
        # Sky and ground are in every scene.
        assert {1, 2} <= set(np.unique(label).tolist())
    # Sizes that are not multiples of 64 occur.
    assert any(a.shape[0] % 64 or a.shape[1] % 64 for a in labels)


def test_deterministic(tmp_path):
    first = files(make_toy_segmentation(str(tmp_path / 'a'), **SMALL))
    second = files(make_toy_segmentation(str(tmp_path / 'b'), **SMALL))
    other = files(make_toy_segmentation(str(tmp_path / 'c'), seed=1, **SMALL))
    assert first.keys() == second.keys() == other.keys()
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert not any(np.array_equal(first[k], other[k]) for k in first)
    # Each sample depends only on its own index: more samples keep the first.
    more = files(
        make_toy_segmentation(str(tmp_path / 'd'), num_train=8, num_val=3))
    assert all(np.array_equal(first[k], more[k]) for k in first)


def test_idempotent(tmp_path):
    root = str(tmp_path)
    make_toy_segmentation(root, **SMALL)
    path = osp.join(root, 'annotations', 'training', 'toy_0005.png')
    before = {p: os.stat(osp.join(root, p)).st_mtime_ns for p in files(root)}
    make_toy_segmentation(root, **SMALL)
    assert before == {
        p: os.stat(osp.join(root, p)).st_mtime_ns
        for p in files(root)
    }
    # A missing file or other settings regenerate; stale files go.
    original = np.asarray(Image.open(path))
    os.remove(path)
    make_toy_segmentation(root, **SMALL)
    assert np.array_equal(np.asarray(Image.open(path)), original)
    make_toy_segmentation(root, num_train=5, num_val=3)
    assert not osp.exists(path)
    assert not osp.exists(path.replace('annotations', 'images')[:-4] + '.jpg')
    assert len(files(root)) == 2 * (5 + 3)


def check_loaded(dataset, count):
    assert len(dataset) == count
    for index in range(count):
        sample = dataset[index]
        gt = sample['data_samples'].gt_sem_seg.data.numpy()
        assert gt.shape[1:] == sample['inputs'].shape[1:]
        # reduce_zero_label: 0 -> 255 (ignored), k -> k - 1.
        allowed = set(range(len(SEG_CLASSES))) | {255}
        assert set(np.unique(gt).tolist()) <= allowed


@pytest.mark.parametrize('split,count', SPLITS)
def test_read_by_mmseg(tmp_path, split, count):
    datasets = pytest.importorskip('mmseg.datasets')
    from mmengine.registry import DefaultScope
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmseg'):
        read_by_mmseg(datasets, str(tmp_path), split, count)


def read_by_mmseg(datasets, tmp_path, split, count):
    root = make_toy_segmentation(tmp_path, **SMALL)
    pipeline = [
        dict(type='LoadImageFromFile'),
        # reduce_zero_label comes from the dataset.
        dict(type='LoadAnnotations'),
        dict(type='PackSegInputs'),
    ]
    data_prefix = dict(
        img_path=f'images/{split}', seg_map_path=f'annotations/{split}')
    # ADE20KDataset reads the layout as is (with its 150 class names).
    ade = datasets.ADE20KDataset(
        data_root=root, data_prefix=data_prefix, pipeline=pipeline)
    check_loaded(ade, count)
    # With the toy class names, its base class with ADE20K's settings (what
    # the toy config uses); ADE20KDataset only accepts its own names.
    toy = datasets.BaseSegDataset(
        data_root=root,
        data_prefix=data_prefix,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=True,
        metainfo=dict(classes=SEG_CLASSES, palette=SEG_PALETTE),
        pipeline=pipeline)
    assert toy.metainfo['classes'] == SEG_CLASSES
    assert toy.label_map is None
    check_loaded(toy, count)
    with pytest.raises(ValueError, match='not a subset'):
        datasets.ADE20KDataset(
            data_root=root,
            data_prefix=data_prefix,
            metainfo=dict(classes=SEG_CLASSES))
    # The labels come through unchanged but for the shift.
    sample = toy[0]
    stem = osp.splitext(osp.basename(sample['data_samples'].img_path))[0]
    label = np.asarray(
        Image.open(osp.join(root, 'annotations', split, stem + '.png')))
    expected = np.where(label == 0, 255, label.astype(np.int64) - 1)
    assert np.array_equal(sample['data_samples'].gt_sem_seg.data.numpy()[0],
                          expected)


def test_cli_needs_no_toolbox(tmp_path):
    # Run the module file itself: it must need only numpy and Pillow.
    code = ('import runpy, sys; '
            f'sys.argv = ["toy", {str(tmp_path)!r}, "--num-train", "2", '
            '"--num-val", "1", "--seed", "3"]; '
            f'runpy.run_path({toy_segmentation.__file__!r}, '
            'run_name="__main__"); '
            'loaded = {"torch", "mmengine", "mmpretrain", "mmdet", "mmseg"}; '
            'assert not loaded & set(sys.modules), loaded & set(sys.modules)')
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path)
    expected = files(
        make_toy_segmentation(
            str(tmp_path / 'api'), num_train=2, num_val=1, seed=3))
    produced = {
        path: array
        for path, array in files(str(tmp_path)).items()
        if not path.startswith('api')
    }
    assert produced.keys() == expected.keys()
    assert all(np.array_equal(a, expected[p]) for p, a in produced.items())
