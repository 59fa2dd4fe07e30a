"""The toy detection dataset generator."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mmmobilemamba.datasets import (DET_CLASSES, make_toy_detection,
                                    toy_detection)

SMALL = dict(num_train=6, num_val=3)
SPLITS = (('train', 6), ('val', 3))


def files(root):
    """{relative path: pixel array or parsed JSON} of every image and
    annotation file."""
    contents = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = osp.join(folder, name)
            if name.endswith('.jpg'):
                content = np.asarray(Image.open(path))
            elif name.startswith('instances_'):
                with open(path) as f:
                    content = json.load(f)
            else:
                continue
            contents[osp.relpath(path, root)] = content
    return contents


def same(a, b):
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def load_coco(root, split):
    coco = pytest.importorskip('pycocotools.coco')
    return coco.COCO(osp.join(root, 'annotations', f'instances_{split}.json'))


def luma(image):
    return np.asarray(image.convert('L'), dtype=float)


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_layout(tmp_path):
    root = str(tmp_path / 'toy')
    assert make_toy_detection(root, **SMALL) == root
    assert len(DET_CLASSES) == 4
    assert sorted(os.listdir(osp.join(root, 'annotations'))) == [
        'instances_train.json', 'instances_val.json'
    ]
    for split, count in SPLITS:
        names = [f'toy_{i:04d}.jpg' for i in range(count)]
        assert sorted(os.listdir(osp.join(root, split))) == names
        with open(osp.join(root, 'annotations',
                           f'instances_{split}.json')) as f:
            data = json.load(f)
        assert data['categories'] == [
            dict(id=i, name=name) for i, name in enumerate(DET_CLASSES, 1)
        ]
        assert [image['file_name'] for image in data['images']] == names
        image_ids = [image['id'] for image in data['images']]
        assert image_ids == list(range(1, count + 1))
        ann_ids = [ann['id'] for ann in data['annotations']]
        assert ann_ids == list(range(1, len(ann_ids) + 1))
        for image in data['images']:
            pil = Image.open(osp.join(root, split, image['file_name']))
            assert pil.mode == 'RGB'
            assert pil.size == (image['width'], image['height'])
            assert (image['height'], image['width']) in toy_detection.SIZES
        for ann in data['annotations']:
            assert ann['iscrowd'] == 0
            assert 1 <= ann['category_id'] <= len(DET_CLASSES)
            x, y, w, h = ann['bbox']
            assert min(w, h) >= 16 and ann['area'] > 0
            polygon = np.reshape(ann['segmentation'][0], (-1, 2))
            assert len(ann['segmentation']) == 1 and len(polygon) >= 3
            assert np.allclose(polygon.min(axis=0), (x, y), atol=0.01)
            assert np.allclose(polygon.max(axis=0), (x + w, y + h), atol=0.01)
    # Sizes that are not multiples of 32 occur.
    assert any(h % 32 or w % 32 for h, w in toy_detection.SIZES)


def test_annotations_match_images(tmp_path):
    root = make_toy_detection(str(tmp_path), **SMALL)
    labels = []
    for split, count in SPLITS:
        coco = load_coco(root, split)
        for image in coco.dataset['images']:
            anns = coco.loadAnns(coco.getAnnIds(imgIds=image['id']))
            assert 1 <= len(anns) <= 5
            # Draw the scene again: the polygons are the ones written, and
            # their masks cover the pixels that show each object.
            rng = toy_detection.sample_rng(0, split, image['id'] - 1)
            sizes = toy_detection.SIZES
            size = sizes[rng.integers(len(sizes))]
            drawn, objects = toy_detection.draw_sample(rng, size)
            # JPEG keeps the brightness of each object.
            saved = luma(Image.open(osp.join(root, split, image['file_name'])))
            drawn = luma(Image.fromarray(drawn))
            assert len(objects) == len(anns)
            for ann, obj in zip(anns, objects):
                labels.append(ann['category_id'])
                assert ann['category_id'] == obj['label']
                assert ann['segmentation'] == [obj['polygon'].ravel().tolist()]
                assert ann['area'] == obj['mask'].sum()
                mask = coco.annToMask(ann).astype(bool)
                assert iou(mask, obj['mask']) > 0.95
                assert iou(mask, obj['visible']) > 0.9
                visible = obj['visible']
                assert abs(saved[visible].mean() - drawn[visible].mean()) < 1
    assert sorted(set(labels)) == list(range(1, len(DET_CLASSES) + 1))


def test_masks_rasterise_polygons():
    # A pixel belongs to a polygon when its centre is inside.
    square = np.array([[1, 1], [4, 1], [4, 3], [1, 3]], dtype=float)
    mask = toy_detection.polygon_mask(square, (5, 6))
    expected = np.zeros((5, 6), dtype=bool)
    expected[1:3, 1:4] = True
    assert np.array_equal(mask, expected)


@pytest.mark.parametrize('split', ['train', 'val'])
def test_perfect_predictions(tmp_path, split):
    cocoeval = pytest.importorskip('pycocotools.cocoeval')
    root = make_toy_detection(str(tmp_path), **SMALL)
    coco = load_coco(root, split)
    for iou_type in ('bbox', 'segm'):
        results = []
        for ann in coco.dataset['annotations']:
            result = dict(
                image_id=ann['image_id'],
                category_id=ann['category_id'],
                score=1.0)
            if iou_type == 'bbox':
                result['bbox'] = ann['bbox']
            else:
                result['segmentation'] = coco.annToRLE(ann)
            results.append(result)
        evaluator = cocoeval.COCOeval(coco, coco.loadRes(results), iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
        # AP and AP50; the stats of unused area ranges read -1.
        assert evaluator.stats[0] == pytest.approx(1.0)
        assert evaluator.stats[1] == pytest.approx(1.0)


def test_deterministic(tmp_path):
    first = files(make_toy_detection(str(tmp_path / 'a'), **SMALL))
    second = files(make_toy_detection(str(tmp_path / 'b'), **SMALL))
    other = files(make_toy_detection(str(tmp_path / 'c'), seed=1, **SMALL))
    assert first.keys() == second.keys() == other.keys()
    assert all(same(first[k], second[k]) for k in first)
    assert not any(same(first[k], other[k]) for k in first)
    # Each sample depends only on its own index: more samples keep the first.
    more = files(
        make_toy_detection(str(tmp_path / 'd'), num_train=8, num_val=3))
    assert all(same(first[k], more[k]) for k in first if k.endswith('.jpg'))
    key = osp.join('annotations', 'instances_train.json')
    anns = first[key]['annotations']
    assert more[key]['images'][:6] == first[key]['images']
    assert more[key]['annotations'][:len(anns)] == anns


def test_idempotent(tmp_path):
    root = str(tmp_path)
    make_toy_detection(root, **SMALL)
    path = osp.join(root, 'train', 'toy_0005.jpg')
    ann_file = osp.join(root, 'annotations', 'instances_train.json')
    before = {p: os.stat(osp.join(root, p)).st_mtime_ns for p in files(root)}
    make_toy_detection(root, **SMALL)
    assert before == {
        p: os.stat(osp.join(root, p)).st_mtime_ns
        for p in files(root)
    }
    # A missing file or other settings regenerate; stale files go.
    original = files(root)
    os.remove(path)
    os.remove(ann_file)
    make_toy_detection(root, **SMALL)
    assert all(same(a, original[p]) for p, a in files(root).items())
    make_toy_detection(root, num_train=5, num_val=3)
    assert not osp.exists(path)
    assert len(files(root)) == 5 + 3 + 2
    with open(ann_file) as f:
        data = json.load(f)
    assert len(data['images']) == 5
    assert {ann['image_id'] for ann in data['annotations']} == set(range(1, 6))


@pytest.mark.parametrize('split,count', SPLITS)
def test_read_by_mmdet(tmp_path, split, count):
    datasets = pytest.importorskip('mmdet.datasets')
    from mmdet.utils import register_all_modules
    from mmengine.registry import DefaultScope
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmdet'):
        read_by_mmdet(datasets, str(tmp_path), split, count)


def read_by_mmdet(datasets, tmp_path, split, count):
    root = make_toy_detection(tmp_path, **SMALL)
    coco = load_coco(root, split)
    dataset = datasets.CocoDataset(
        data_root=root,
        ann_file=f'annotations/instances_{split}.json',
        data_prefix=dict(img=f'{split}/'),
        metainfo=dict(classes=DET_CLASSES),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            dict(type='PackDetInputs'),
        ])
    assert dataset.metainfo['classes'] == DET_CLASSES
    assert len(dataset) == count
    for index in range(count):
        sample = dataset[index]
        data_sample = sample['data_samples']
        image_id = data_sample.img_id
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
        gt = data_sample.gt_instances
        assert len(gt) == len(anns) >= 1
        assert sample['inputs'].shape[1:] == data_sample.img_shape
        assert gt.labels.tolist() == [a['category_id'] - 1 for a in anns]
        boxes = np.array([a['bbox'] for a in anns])
        boxes[:, 2:] += boxes[:, :2]
        assert np.allclose(gt.bboxes.numpy(), boxes, atol=1e-3)
        masks = np.stack([coco.annToMask(a) for a in anns])
        assert np.array_equal(gt.masks.to_ndarray(), masks)


def test_cli_needs_no_toolbox(tmp_path):
    # Run the module file itself: it must need only numpy and Pillow.
    code = ('import runpy, sys; '
            f'sys.argv = ["toy", {str(tmp_path)!r}, "--num-train", "2", '
            '"--num-val", "1", "--seed", "3"]; '
            f'runpy.run_path({toy_detection.__file__!r}, '
            'run_name="__main__"); '
            'loaded = {"torch", "mmengine", "mmdet", "pycocotools"}; '
            'assert not loaded & set(sys.modules), loaded & set(sys.modules)')
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path)
    expected = files(
        make_toy_detection(
            str(tmp_path / 'api'), num_train=2, num_val=1, seed=3))
    produced = {
        path: content
        for path, content in files(str(tmp_path)).items()
        if not path.startswith('api')
    }
    assert produced.keys() == expected.keys()
    assert all(same(a, expected[p]) for p, a in produced.items())
