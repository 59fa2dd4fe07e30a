"""tools/train.py and tools/test.py on the toy segmentation dataset, then
mmseg's inference APIs on the trained model.

Each tool runs as a subprocess with the real mmengine Runner, on CPU.
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from mmmobilemamba.datasets import SEG_CLASSES, toy_segmentation

pytest.importorskip('mmseg')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'sem_fpn', 'toy',
                  'fpn_mobilemamba-t2_1xb8_toy-seg.py')
ITERS = Config.fromfile(CONFIG).train_cfg.max_iters
METRICS = ('aAcc', 'mIoU', 'mAcc')


def tool(name, *args):
    """Run ``tools/<name>`` from the repository root; return its output."""
    paths = [REPO, os.environ.get('PYTHONPATH')]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p))
    result = subprocess.run(
        [sys.executable, osp.join('tools', name), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    return output


def data_options(root):
    return ['--cfg-options'] + [
        f'{split}_dataloader.dataset.data_root={root}'
        for split in ('train', 'val', 'test')
    ]


def val_metrics(work_dir):
    """{iteration: {metric: value}} of every validation in ``work_dir``."""
    metrics = {}
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'mIoU' in record:
                    metrics[record['step']] = record
    return metrics


def logged_test_metrics(work_dir):
    """The metrics that tools/test.py logged under ``work_dir``."""
    (path, ) = glob.glob(osp.join(work_dir, '*', '*.json'))
    with open(path) as f:
        return json.load(f)


def init_segmentor(checkpoint, test_cfg=None):
    """The toy config's model on CPU with ``checkpoint`` loaded."""
    from mmseg.apis import init_model
    cfg = Config.fromfile(CONFIG)
    if test_cfg is not None:
        cfg.model.test_cfg = test_cfg
    return init_model(cfg, checkpoint, device='cpu')


@pytest.fixture(scope='module')
def trained(seg_root, tmp_path_factory):
    """Work dir of a full training run of the toy config."""
    work_dir = str(tmp_path_factory.mktemp('seg_train'))
    tool('train.py', CONFIG, '--work-dir', work_dir, *data_options(seg_root))
    return work_dir


@pytest.fixture(scope='module')
def checkpoint(trained):
    return osp.join(trained, f'iter_{ITERS}.pth')


@pytest.fixture(scope='module')
def untrained_metrics(seg_root, tmp_path_factory):
    """Metrics of the freshly initialised model, by tools/test.py."""
    tmp = tmp_path_factory.mktemp('seg_untrained')
    torch.manual_seed(0)
    model = init_segmentor(None)
    model.init_weights()
    checkpoint = str(tmp / 'untrained.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    work_dir = str(tmp / 'work_dir')
    tool('test.py', CONFIG, checkpoint, '--work-dir', work_dir,
         *data_options(seg_root))
    return logged_test_metrics(work_dir)


@pytest.fixture(scope='module')
def odd_scene():
    """A 100x140 scene (BGR, as read by OpenCV) and its 0-based labels
    (255 where ignored)."""
    rng = np.random.default_rng([7, 2, 0])
    image, label = toy_segmentation.draw_sample(rng, (100, 140))
    return image[..., ::-1].copy(), label.astype(np.int64) - 1


def pixel_accuracy(pred, label):
    valid = label >= 0
    return (pred[valid] == label[valid]).mean()


def test_training_learns(trained, untrained_metrics):
    metrics = val_metrics(trained)
    assert list(metrics) == [ITERS]
    final = metrics[ITERS]
    assert set(METRICS) <= set(final) and set(METRICS) <= set(
        untrained_metrics)
    assert final['mIoU'] > untrained_metrics['mIoU'] + 20
    assert final['mIoU'] > 40
    assert final['aAcc'] > untrained_metrics['aAcc']
    assert osp.isfile(osp.join(trained, f'iter_{ITERS}.pth'))


def test_inference_model(checkpoint, seg_root):
    from mmseg.apis import inference_model
    model = init_segmentor(checkpoint)
    assert model.dataset_meta['classes'] == SEG_CLASSES
    paths = sorted(
        glob.glob(osp.join(seg_root, 'images', 'validation', '*.jpg')))[:4]
    # One at a time: the images differ in size.
    for path in paths:
        result = inference_model(model, path)
        label = np.asarray(
            Image.open(
                path.replace('images', 'annotations').replace('.jpg', '.png')))
        pred = result.pred_sem_seg.data[0].numpy()
        assert pred.shape == label.shape
        assert pixel_accuracy(pred, label.astype(np.int64) - 1) > 0.5


def test_inferencer_visualises(checkpoint, seg_root, tmp_path):
    from mmseg.apis import MMSegInferencer
    inferencer = MMSegInferencer(
        model=CONFIG, weights=checkpoint, device='cpu')
    # The painted image takes the input's name and format: a PNG here.
    path = str(tmp_path / 'scene.png')
    with Image.open(
            osp.join(seg_root, 'images', 'validation',
                     'toy_0000.jpg')) as image:
        image.save(path)
        width, height = image.size
    out_dir = str(tmp_path / 'out')
    result = inferencer(path, out_dir=out_dir)
    pred = result['predictions']
    assert pred.shape == (height, width)
    with Image.open(osp.join(out_dir, 'vis', 'scene.png')) as image:
        assert image.format == 'PNG'
        assert image.size == (width, height)
        assert image.mode == 'RGB'
    # The prediction map is written too.
    (pred_path, ) = glob.glob(osp.join(out_dir, 'pred', '*.png'))
    assert np.array_equal(np.asarray(Image.open(pred_path)), pred)


#: MMSegInferencer in a fresh interpreter, as a user calls it: only the
#: config's ``custom_imports`` brings this package in, and ``torch.load``
#: keeps its default ``weights_only=True``.
FRESH_SEG_INFERENCER = '''
import sys
from mmseg.apis import MMSegInferencer
config, checkpoint, image = sys.argv[1:]
assert 'mmmobilemamba' not in sys.modules
inferencer = MMSegInferencer(model=config, weights=checkpoint, device='cpu')
print('shape:', *inferencer(image)['predictions'].shape)
'''


def test_inferencer_loads_our_checkpoint_out_of_the_box(checkpoint, seg_root):
    image = osp.join(seg_root, 'images', 'validation', 'toy_0000.jpg')
    result = subprocess.run([
        sys.executable, '-c', FRESH_SEG_INFERENCER, CONFIG, checkpoint, image
    ],
                            cwd=REPO,
                            capture_output=True,
                            text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-5000:]
    with Image.open(image) as img:
        width, height = img.size
    assert f'shape: {height} {width}' in result.stdout


@pytest.mark.parametrize('test_cfg', [
    dict(mode='whole'),
    dict(mode='slide', crop_size=(64, 64), stride=(48, 48)),
])
def test_whole_and_slide_inference(checkpoint, odd_scene, test_cfg):
    from mmseg.apis import inference_model
    image, label = odd_scene
    model = init_segmentor(checkpoint, test_cfg)
    result = inference_model(model, image)
    pred = result.pred_sem_seg.data[0].numpy()
    assert pred.shape == (100, 140)
    assert result.seg_logits.data.shape == (len(SEG_CLASSES), 100, 140)
    assert pixel_accuracy(pred, label) > 0.5
