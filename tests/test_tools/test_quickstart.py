"""tools/quickstart.py end to end, shortened to a few iterations per task,
then run again after a simulated interruption.

The tool runs as a subprocess with the real mmengine Runner, on CPU.
"""
import json
import math
import os
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from tool_runner import run, tool

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')

ITERS = 2
# Mask R-CNN too: an untrained RetinaNet scores no box above its threshold,
# so that COCO's metric then has nothing to evaluate.
TASKS = ('det', 'seg', 'cls', 'ins')
METRICS = {
    'det': (),
    'seg': ('aAcc', 'mIoU', 'mAcc'),
    'cls': ('accuracy/top1', 'accuracy/top5'),
    'ins': [
        f'coco/{kind}_mAP{suffix}' for kind in ('bbox', 'segm')
        for suffix in ('', '_50', '_75', '_s', '_m', '_l')
    ],
}


def quickstart(work_dir, data_dir, *args):
    return tool('quickstart.py', '--work-dir', work_dir,
                '--data-dir', data_dir, '--device', 'cpu', '--max-iters',
                str(ITERS), '--validations', '1', *args)


def task_dir(work_dir, name):
    return osp.join(work_dir, f'{name}_{ITERS}it')


def result_of(work_dir, name):
    with open(osp.join(task_dir(work_dir, name), 'result.json')) as f:
        return json.load(f)


@pytest.fixture(scope='module')
def first_run(tmp_path_factory):
    """(work dir, data dir, output) of a shortened run of every task."""
    tmp = tmp_path_factory.mktemp('quickstart')
    work_dir, data_dir = str(tmp / 'work_dir'), str(tmp / 'data')
    output = quickstart(work_dir, data_dir, '--tasks', *TASKS)
    return work_dir, data_dir, output


def test_trains_evaluates_and_paints_every_task(first_run):
    work_dir, data_dir, output = first_run
    for name in TASKS:
        result = result_of(work_dir, name)
        assert result['iterations'] == ITERS
        assert result['resumed_from'] == 0
        assert result['device'] == 'cpu'
        assert set(METRICS[name]) <= set(result['metrics'])
        for value in result['metrics'].values():
            assert math.isfinite(value)
        folder = task_dir(work_dir, name)
        assert osp.isfile(osp.join(folder, result['checkpoint']))
        assert len(result['paintings']) == 3
        changed = 0
        for painting in result['paintings']:
            source = osp.join(folder, 'inputs', osp.basename(painting))
            with Image.open(osp.join(folder, painting)) as image:
                assert image.format == 'PNG'
                assert image.mode == 'RGB'
                painted = np.asarray(image)
            original = np.asarray(Image.open(source).convert('RGB'))
            if painted.shape != original.shape:
                changed += 1
            else:
                changed += not np.array_equal(painted, original)
        # Segmentation maps and class names are always painted; boxes only
        # above the score threshold.
        if name in ('seg', 'cls'):
            assert changed == 3
        for picture in ('contact_sheet', 'curves'):
            with Image.open(osp.join(folder, result[picture])) as image:
                assert image.format == 'PNG'
                assert min(image.size) >= 300
        # The classifier is trained first; the dense tasks start from its
        # checkpoint, through the backbone's init_cfg.
        if name == 'cls':
            assert result['pretrained'] is None
        else:
            pretrained = osp.join(work_dir, result['pretrained'])
            assert pretrained == osp.join(
                task_dir(work_dir, 'cls'), f'iter_{ITERS}.pth')
            assert f'Loads checkpoint by local backend from path: ' \
                f'{pretrained}' in output
    # The Runner logs its progress: the last training iteration.
    assert output.count(f'Iter(train) [{ITERS}/{ITERS}]') == len(TASKS)
    # The datasets are built where the toy configs' data roots point.
    for folder in ('toy_det', 'toy_seg', 'toy_cls'):
        assert osp.isdir(osp.join(data_dir, folder))


def test_summary_table(first_run):
    work_dir, _, output = first_run
    with open(osp.join(work_dir, 'summary.md')) as f:
        summary = f.read()
    assert summary in output
    rows = [line for line in summary.splitlines() if line.startswith('| ')]
    assert rows[0].split(' | ')[1:6] == [
        'config', 'backbone from', 'iterations', 'time', 'metrics'
    ]
    cells = {row.split(' | ')[0][2:]: row.split(' | ') for row in rows[1:]}
    # The classifier first: it pretrains the backbone of the others.
    assert list(cells) == ['cls', 'det', 'seg', 'ins']
    assert cells['cls'][2] == 'scratch'
    assert cells['det'][2] == f'`cls_{ITERS}it/iter_{ITERS}.pth`'
    shown = dict(item.split(' ') for item in cells['seg'][5].split(', '))
    seg = result_of(work_dir, 'seg')['metrics']
    assert set(shown) == {'mIoU', 'aAcc'}
    for key, value in shown.items():
        assert float(value) == pytest.approx(seg[key], abs=0.01)
    assert cells['ins'][5].startswith('segm_mAP_50 ')
    assert 'bbox_mAP ' in cells['ins'][5]
    assert cells['cls'][1] == ('`configs/mobilemamba/toy/'
                               'mobilemamba-t2_1xb32_toy-cls.py`')
    assert all(row.split(' | ')[3] == str(ITERS) for row in rows[1:])
    # Each task's contact sheet and curves are linked.
    for name in TASKS:
        assert f'({name}_{ITERS}it/contact_sheet.png)' in summary
        assert f'({name}_{ITERS}it/training_curves.png)' in summary


def test_second_run_resumes_and_reuses(first_run):
    work_dir, data_dir, _ = first_run
    # Interrupt the classifier after its first iteration: drop what the
    # second one left.
    cls_dir = task_dir(work_dir, 'cls')
    os.remove(osp.join(cls_dir, 'result.json'))
    os.remove(osp.join(cls_dir, f'iter_{ITERS}.pth'))
    with open(osp.join(cls_dir, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(cls_dir, 'iter_1.pth'))
    seg_before = result_of(work_dir, 'seg')

    output = quickstart(work_dir, data_dir, '--tasks', 'seg', 'cls')
    assert 'resumed epoch: 0, iter: 1' in output
    assert output.count(f'Iter(train) [{ITERS}/{ITERS}]') == 1
    assert '[seg] done before: reusing' in output
    assert result_of(work_dir, 'seg') == seg_before
    resumed = result_of(work_dir, 'cls')
    assert resumed['iterations'] == ITERS
    assert resumed['resumed_from'] == 1
    path = osp.join(cls_dir, f'iter_{ITERS}.pth')
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint['meta']['iter'] == ITERS
    with open(osp.join(work_dir, 'summary.md')) as f:
        rows = [line for line in f if line.startswith('| ')]
    iterations = [row.split(' | ')[3] for row in rows[1:]]
    assert iterations == [f'{ITERS} (resumed at 1)', f'{ITERS} (reused)']


@pytest.mark.skipif(torch.cuda.is_available(), reason='CUDA is present')
def test_cuda_without_a_device_says_so():
    with pytest.raises(AssertionError, match='no CUDA device is visible'):
        run([
            sys.executable, 'tools/quickstart.py', '--device', 'cuda',
            '--work-dir', 'unused'
        ])
