"""tools/train.py, tools/test.py and tools/dist_train.sh on the toy detection
dataset, then mmdet's inference APIs on the trained RetinaNet.

Each tool runs as a subprocess with the real mmengine Runner, on CPU.
"""
import glob
import json
import math
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config, ConfigDict
from PIL import Image
from tool_runner import RANK_HOOK, REPO, TIMEOUT, free_port, run, tool

from mmmobilemamba.datasets import DET_CLASSES

pytest.importorskip('mmdet')

RETINANET = osp.join(REPO, 'configs', 'retinanet', 'toy',
                     'retinanet_mobilemamba-t2_fpn_toy-det.py')
MASK_RCNN = osp.join(REPO, 'configs', 'mask_rcnn', 'toy',
                     'mask-rcnn_mobilemamba-t2_fpn_toy-det.py')
ITERS = Config.fromfile(RETINANET).train_cfg.max_iters
# Iterations of the short Mask R-CNN run from the official from-scratch
# init (box/mask mAP 0.028/0.023; after 60 iterations the masks are still
# at 0.006).
MASK_RCNN_ITERS = 80


def data_options(root):
    """Point the dataloaders and the COCO evaluators at ``root``."""
    ann_file = osp.join(root, 'annotations', 'instances_val.json')
    return ['--cfg-options'] + [
        f'{split}_dataloader.dataset.data_root={root}'
        for split in ('train', 'val', 'test')
    ] + [
        f'{split}_evaluator.ann_file={ann_file}' for split in ('val', 'test')
    ]


def short_run_options(iters):
    return [
        f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
        f'default_hooks.checkpoint.interval={iters}'
    ]


def val_metrics(work_dir):
    """{iteration: {metric: value}} of every validation in ``work_dir``."""
    metrics = {}
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'coco/bbox_mAP' in record:
                    metrics[record['step']] = record
    return metrics


def logged_test_metrics(work_dir):
    """The metrics that tools/test.py logged under ``work_dir``."""
    (path, ) = glob.glob(osp.join(work_dir, '*', '*.json'))
    with open(path) as f:
        return json.load(f)


def val_annotations(root, name):
    """Boxes (x1, y1, x2, y2) and labels (0-based) of val image ``name``."""
    with open(osp.join(root, 'annotations', 'instances_val.json')) as f:
        coco = json.load(f)
    (image, ) = [i for i in coco['images'] if i['file_name'] == name]
    anns = [a for a in coco['annotations'] if a['image_id'] == image['id']]
    boxes = np.array([[x, y, x + w, y + h]
                      for x, y, w, h in (a['bbox'] for a in anns)])
    labels = np.array([a['category_id'] - 1 for a in anns])
    return image, boxes, labels


def box_iou(a, b):
    """(len(a), len(b)) IoU of two sets of (x1, y1, x2, y2) boxes."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).prod(-1)
    return inter / (area_a[:, None] + area_b[None] - inter)


@pytest.fixture(scope='module')
def trained(det_root, tmp_path_factory):
    """Work dir of a full training run of the RetinaNet toy config."""
    work_dir = str(tmp_path_factory.mktemp('det_train'))
    tool('train.py', RETINANET, '--work-dir', work_dir,
         *data_options(det_root))
    return work_dir


@pytest.fixture(scope='module')
def checkpoint(trained):
    return osp.join(trained, f'iter_{ITERS}.pth')


def untrained_metrics(config, det_root, tmp, test_cfg_options):
    """COCO metrics of the freshly initialised detector of ``config``, by
    tools/test.py."""
    from mmdet.apis import init_detector
    torch.manual_seed(0)
    model = init_detector(Config.fromfile(config), None, device='cpu')
    model.init_weights()
    tmp.mkdir(exist_ok=True)
    checkpoint = str(tmp / 'untrained.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    work_dir = str(tmp / 'work_dir')
    tool('test.py', config, checkpoint, '--work-dir', work_dir,
         *data_options(det_root), *test_cfg_options)
    return logged_test_metrics(work_dir)


@pytest.fixture(scope='module')
def untrained_retinanet_metrics(det_root, tmp_path_factory):
    # Its scores all lie near the classifier's prior (0.01): keep them all,
    # or there is nothing to evaluate.
    return untrained_metrics(RETINANET, det_root,
                             tmp_path_factory.mktemp('det_untrained'),
                             ['model.test_cfg.score_thr=0.0'])


def test_retinanet_learns(trained, untrained_retinanet_metrics):
    metrics = val_metrics(trained)
    assert list(metrics) == [ITERS]
    final = metrics[ITERS]['coco/bbox_mAP']
    before = untrained_retinanet_metrics['coco/bbox_mAP']
    assert final > before + 0.02
    assert final > 0.03
    assert metrics[ITERS]['coco/bbox_mAP_50'] > 0.1
    assert osp.isfile(osp.join(trained, f'iter_{ITERS}.pth'))


def test_inference_detector(checkpoint, det_root):
    from mmdet.apis import inference_detector, init_detector
    model = init_detector(RETINANET, checkpoint, device='cpu')
    assert model.dataset_meta['classes'] == DET_CLASSES
    hits = 0
    for name in ('toy_0000.jpg', 'toy_0001.jpg', 'toy_0002.jpg'):
        image, gt_boxes, _ = val_annotations(det_root, name)
        result = inference_detector(model, osp.join(det_root, 'val', name))
        pred = result.pred_instances
        assert result.ori_shape == (image['height'], image['width'])
        assert 0 < len(pred) <= 20
        assert pred.bboxes.shape == (len(pred), 4)
        assert pred.labels.min() >= 0
        assert pred.labels.max() < len(DET_CLASSES)
        boxes = pred.bboxes.numpy()
        assert (boxes[:, 2:] >= boxes[:, :2]).all()
        # The best-scored box lies on an object.
        best = boxes[pred.scores.argmax().item()][None]
        hits += box_iou(best, gt_boxes).max() > 0.3
    assert hits >= 2


def test_inferencer_visualises(checkpoint, det_root, tmp_path):
    from mmdet.apis import DetInferencer
    inferencer = DetInferencer(
        model=RETINANET, weights=checkpoint, device='cpu')
    # The painted image takes the input's name and format: a PNG here.
    path = str(tmp_path / 'scene.png')
    with Image.open(osp.join(det_root, 'val', 'toy_0000.jpg')) as image:
        image.save(path)
        width, height = image.size
    out_dir = str(tmp_path / 'out')
    result = inferencer(path, out_dir=out_dir)
    (pred, ) = result['predictions']
    assert len(pred['bboxes']) == len(pred['labels']) == len(pred['scores'])
    assert len(pred['bboxes']) > 0
    assert all(0 <= label < len(DET_CLASSES) for label in pred['labels'])
    with Image.open(osp.join(out_dir, 'vis', 'scene.png')) as image:
        assert image.format == 'PNG'
        assert image.size == (width, height)
        assert image.mode == 'RGB'


#: DetInferencer in a fresh interpreter, as a user calls it: only the
#: config's ``custom_imports`` brings this package in, and ``torch.load``
#: keeps its default ``weights_only=True``.
FRESH_DET_INFERENCER = '''
import sys
from mmdet.apis import DetInferencer
config, checkpoint, image, out_dir = sys.argv[1:]
assert 'mmmobilemamba' not in sys.modules
inferencer = DetInferencer(model=config, weights=checkpoint, device='cpu')
(pred, ) = inferencer(image, out_dir=out_dir)['predictions']
print('boxes:', len(pred['bboxes']))
'''


def test_inferencer_loads_our_checkpoint_out_of_the_box(
        checkpoint, det_root, tmp_path):
    image = osp.join(det_root, 'val', 'toy_0000.jpg')
    out_dir = str(tmp_path / 'out')
    output = run([
        sys.executable, '-c', FRESH_DET_INFERENCER, RETINANET, checkpoint,
        image, out_dir
    ])
    assert int(output.split('boxes:')[1].split()[0]) > 0
    assert osp.isfile(osp.join(out_dir, 'vis', 'toy_0000.jpg'))


def test_other_pickled_globals_stay_refused(checkpoint, tmp_path):
    """Registering our allow-list opens nothing else: a checkpoint that
    pickles another class fails to load, naming it."""
    state = torch.load(checkpoint, map_location='cpu')
    state['meta']['cfg'] = ConfigDict(evil=True)
    tampered = str(tmp_path / 'tampered.pth')
    torch.save(state, tampered)
    with pytest.raises(subprocess.CalledProcessError) as error:
        subprocess.run([
            sys.executable, '-c', FRESH_DET_INFERENCER, RETINANET, tampered,
            'unused.jpg',
            str(tmp_path)
        ],
                       cwd=REPO,
                       capture_output=True,
                       text=True,
                       check=True,
                       timeout=TIMEOUT)
    assert 'mmengine.config.config.ConfigDict' in error.value.stderr
    assert 'UnpicklingError' in error.value.stderr


def test_mask_rcnn_learns_boxes_and_masks(det_root, tmp_path):
    """A short Mask R-CNN run reports every box and mask mAP, and both beat
    the untrained detector's."""
    before = untrained_metrics(MASK_RCNN, det_root, tmp_path / 'untrained',
                               ['model.test_cfg.rcnn.score_thr=0.0'])
    work_dir = str(tmp_path / 'work_dir')
    tool('train.py', MASK_RCNN, '--work-dir', work_dir,
         *data_options(det_root), *short_run_options(MASK_RCNN_ITERS))
    metrics = val_metrics(work_dir)
    assert list(metrics) == [MASK_RCNN_ITERS]
    after = metrics[MASK_RCNN_ITERS]
    for task in ('bbox', 'segm'):
        for suffix in ('', '_50', '_75', '_s', '_m', '_l'):
            value = after[f'coco/{task}_mAP{suffix}']
            assert math.isfinite(value) and -1 <= value <= 1
        assert after[f'coco/{task}_mAP'] > before[f'coco/{task}_mAP'] + 0.01
    assert osp.isfile(osp.join(work_dir, f'iter_{MASK_RCNN_ITERS}.pth'))


def test_dist_train_two_processes(det_root, tmp_path):
    (tmp_path / 'rank_params_hook.py').write_text(RANK_HOOK)
    config = tmp_path / 'toy_with_hook.py'
    config.write_text(
        f'_base_ = {RETINANET!r}\n'
        "custom_imports = dict(imports=['mmmobilemamba', 'rank_params_hook'],"
        ' allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='SaveRankParamsHook')]\n")
    work_dir = str(tmp_path / 'work_dir')
    iters = 4
    run([
        'bash', 'tools/dist_train.sh',
        str(config), '2', '--work-dir', work_dir, *data_options(det_root),
        *short_run_options(iters), 'train_dataloader.batch_size=2',
        'model.test_cfg.score_thr=0.0'
    ],
        extra_path=str(tmp_path),
        PORT=free_port())
    (log, ) = glob.glob(osp.join(work_dir, '*', '*.log'))
    with open(log) as f:
        text = f.read()
    assert 'Distributed training: True' in text
    assert 'GPU number: 2' in text
    assert "backend='gloo'" in text or torch.cuda.is_available()
    assert osp.isfile(osp.join(work_dir, f'iter_{iters}.pth'))
    assert list(val_metrics(work_dir)) == [iters]
    # DDP keeps the parameters of both ranks identical.
    ranks = [
        torch.load(path, weights_only=True) for path in
        [osp.join(work_dir, f'rank{r}_params.pth') for r in (0, 1)]
    ]
    assert ranks[0].keys() == ranks[1].keys()
    for name, param in ranks[0].items():
        torch.testing.assert_close(param, ranks[1][name], rtol=0, atol=0)
