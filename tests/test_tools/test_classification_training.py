"""tools/train.py, tools/test.py and tools/dist_*.sh on the toy dataset.

Each tool runs as a subprocess with the real mmengine Runner, on CPU.
"""
import glob
import json
import os.path as osp
import pickle
import re
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmpretrain import get_model
from tool_runner import RANK_HOOK, REPO, free_port, run, tool

from mmmobilemamba.datasets import CLASSES
from mmmobilemamba.utils import CHECKPOINT_SAFE_GLOBALS, setup_toolbox
from mmmobilemamba.utils.safe_globals import checkpoint_safe_globals

CONFIG = osp.join(REPO, 'configs', 'mobilemamba', 'toy',
                  'mobilemamba-t2_1xb32_toy-cls.py')
CHANCE = 100 / len(CLASSES)
EPOCHS = Config.fromfile(CONFIG).train_cfg.max_epochs


def data_options(root):
    return ['--cfg-options'] + [
        f'{split}_dataloader.dataset.data_root={root}'
        for split in ('train', 'val', 'test')
    ]


def val_metrics(work_dir):
    """{epoch: top-1} of every validation in ``work_dir``'s runs."""
    metrics = {}
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'accuracy/top1' in record:
                    metrics[record['step']] = record['accuracy/top1']
    return metrics


def logged_test_metrics(work_dir):
    """The metrics that tools/test.py logged under ``work_dir``.

    Every rank of a distributed test writes the same file (mmengine's
    ``LoggerHook.after_test_epoch`` does not check the rank), so two
    writes may overlap: the first record is read.
    """
    (path, ) = glob.glob(osp.join(work_dir, '*', '*.json'))
    with open(path) as f:
        return json.JSONDecoder().raw_decode(f.read())[0]


@pytest.fixture(scope='module')
def trained(cls_root, tmp_path_factory):
    """Work dir of a full training run of the toy config."""
    work_dir = str(tmp_path_factory.mktemp('train'))
    tool('train.py', CONFIG, '--work-dir', work_dir, *data_options(cls_root))
    return work_dir


@pytest.fixture(scope='module')
def untrained_top1(cls_root, tmp_path_factory):
    """Top-1 of the freshly initialised model, tested by dist_test.sh on two
    processes."""
    tmp = tmp_path_factory.mktemp('untrained')
    torch.manual_seed(0)
    model = get_model(CONFIG)
    model.init_weights()
    checkpoint = str(tmp / 'untrained.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    work_dir = str(tmp / 'work_dir')
    run([
        'bash', 'tools/dist_test.sh', CONFIG, checkpoint, '2', '--work-dir',
        work_dir, *data_options(cls_root)
    ],
        PORT=free_port())
    return logged_test_metrics(work_dir)['accuracy/top1']


def test_training_learns(trained, untrained_top1):
    top1 = val_metrics(trained)
    assert set(range(1, EPOCHS + 1)) <= set(top1)
    assert top1[EPOCHS] > 2 * CHANCE
    assert top1[EPOCHS] > untrained_top1 + 20
    assert untrained_top1 < 2 * CHANCE


def test_test_tool_reports_accuracy(trained, cls_root, tmp_path):
    out = str(tmp_path / 'predictions.pkl')
    tool('test.py', CONFIG, osp.join(trained, f'epoch_{EPOCHS}.pth'),
         '--work-dir', str(tmp_path), '--out', out, *data_options(cls_root))
    metrics = logged_test_metrics(str(tmp_path))
    assert metrics['accuracy/top1'] == pytest.approx(
        val_metrics(trained)[EPOCHS], abs=1e-3)
    assert metrics['accuracy/top5'] >= metrics['accuracy/top1']
    with open(out, 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 20 * len(CLASSES)


def test_resume(trained, cls_root):
    # A fresh process refuses the Runner checkpoint under safe loading; the
    # globals it lacks are all in the allow-list, which then loads it.
    last = osp.join(trained, f'epoch_{EPOCHS}.pth')
    code = ('import pickle, sys, torch\n'
            'print(*torch.serialization.get_unsafe_globals_in_checkpoint('
            'sys.argv[1]))\n'
            'try:\n'
            '    torch.load(sys.argv[1], weights_only=True)\n'
            'except pickle.UnpicklingError:\n'
            '    print("refused")\n')
    lines = run([sys.executable, '-c', code, last]).splitlines()
    assert 'refused' in lines
    needed = set(lines[0].split())
    allowed = {
        entry[1] if isinstance(entry, tuple) else
        f'{entry.__module__}.{entry.__qualname__}'
        for entry in CHECKPOINT_SAFE_GLOBALS
    }
    assert 'builtins.getattr' in needed
    assert needed <= allowed
    assert torch.load(last, weights_only=True)['meta']['epoch'] == EPOCHS

    output = tool('train.py', CONFIG, '--work-dir', trained, '--resume',
                  *data_options(cls_root),
                  f'train_cfg.max_epochs={EPOCHS + 1}')
    assert f'resumed epoch: {EPOCHS}, iter:' in output
    assert 'Epoch(train) [1]' not in output
    assert f'Epoch(train) [{EPOCHS + 1}]' in output
    resumed = osp.join(trained, f'epoch_{EPOCHS + 1}.pth')
    checkpoint = torch.load(resumed, weights_only=True)
    assert checkpoint['meta']['epoch'] == EPOCHS + 1


def test_demo_and_export_take_the_trained_checkpoint(trained, cls_root,
                                                     tmp_path):
    """``demo/image_demo.py`` and ``tools/deployment/export_onnx.py`` load a
    checkpoint of a training run as it is, under torch's default
    ``weights_only=True``."""
    checkpoint = osp.join(trained, f'epoch_{EPOCHS}.pth')
    image = sorted(glob.glob(osp.join(cls_root, 'val', CLASSES[0],
                                      '*.png')))[0]
    out_file = str(tmp_path / 'demo.png')
    output = run([
        sys.executable, 'demo/image_demo.py', image, CONFIG, checkpoint,
        '--out-file', out_file, '--topk', '1'
    ])
    # The top class and its score, as ``disc: 0.9731``.
    top1 = rf'^({"|".join(CLASSES)}): [01]\.\d{{4}}$'
    assert len(re.findall(top1, output, re.M)) == 1
    assert osp.isfile(out_file)
    onnx_file = str(tmp_path / 'model.onnx')
    tool('deployment/export_onnx.py', CONFIG, checkpoint, '--out', onnx_file)
    assert osp.isfile(onnx_file)


def test_dist_train_two_processes(cls_root, tmp_path):
    (tmp_path / 'rank_params_hook.py').write_text(RANK_HOOK)
    config = tmp_path / 'toy_with_hook.py'
    config.write_text(
        f'_base_ = {CONFIG!r}\n'
        "custom_imports = dict(imports=['mmmobilemamba', 'rank_params_hook'],"
        ' allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='SaveRankParamsHook')]\n")
    work_dir = str(tmp_path / 'work_dir')
    run([
        'bash', 'tools/dist_train.sh',
        str(config), '2', '--work-dir', work_dir, *data_options(cls_root),
        'train_cfg.max_epochs=1'
    ],
        extra_path=str(tmp_path),
        PORT=free_port())
    (log, ) = glob.glob(osp.join(work_dir, '*', '*.log'))
    with open(log) as f:
        text = f.read()
    assert 'Distributed training: True' in text
    assert 'GPU number: 2' in text
    assert "backend='gloo'" in text or torch.cuda.is_available()
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    assert list(val_metrics(work_dir)) == [1]
    # DDP keeps the parameters of both ranks identical.
    ranks = [
        torch.load(path, weights_only=True) for path in
        [osp.join(work_dir, f'rank{r}_params.pth') for r in (0, 1)]
    ]
    assert ranks[0].keys() == ranks[1].keys()
    for name, param in ranks[0].items():
        torch.testing.assert_close(param, ranks[1][name], rtol=0, atol=0)


def test_unsupported_scope():
    with pytest.raises(ValueError, match="'mmpretrain', 'mmdet', 'mmseg'"):
        setup_toolbox(Config(dict(default_scope='mmocr')))


class GetattrPayload:
    """Pickles as ``getattr(HistoryBuffer, name)``."""

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        return getattr, (HistoryBuffer, self.name)


def test_allowed_getattr_reads_only_history_buffer_methods(tmp_path):
    path = str(tmp_path / 'payload.pth')
    torch.save(GetattrPayload('mean'), path)
    assert torch.load(path, weights_only=True) is HistoryBuffer.mean
    torch.save(GetattrPayload('__init__'), path)
    with pytest.raises(pickle.UnpicklingError, match='not allowed'):
        torch.load(path, weights_only=True)


def test_checkpoint_safe_globals_keeps_the_registered_ones():
    """torch's ``safe_globals`` context unregisters on exit all it was
    given; ours leaves what the package registered at import."""
    before = len(torch.serialization.get_safe_globals())
    with checkpoint_safe_globals():
        assert HistoryBuffer in torch.serialization.get_safe_globals()
    assert len(torch.serialization.get_safe_globals()) == before
    assert HistoryBuffer in torch.serialization.get_safe_globals()


def test_stock_mmpretrain_entry_point(cls_root, tmp_path):
    """``mim train mmpretrain CONFIG`` runs mmpretrain's own tools/train.py
    with the package importable: the configs need nothing else."""
    import mmpretrain
    entry = osp.join(
        osp.dirname(mmpretrain.__file__), '.mim', 'tools', 'train.py')
    work_dir = str(tmp_path / 'work_dir')
    run([
        sys.executable, entry, CONFIG, '--work-dir', work_dir,
        *data_options(cls_root), 'train_cfg.max_epochs=1'
    ])
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    assert list(val_metrics(work_dir)) == [1]


def test_inferencer_on_the_trained_model(trained, cls_root, pretrain_scope):
    from mmpretrain import ImageClassificationInferencer
    inferencer = ImageClassificationInferencer(
        model=CONFIG,
        pretrained=osp.join(trained, f'epoch_{EPOCHS}.pth'),
        device='cpu')
    images = {
        name: sorted(glob.glob(osp.join(cls_root, 'val', name, '*.png')))[:5]
        for name in CLASSES
    }
    correct = sum(result['pred_class'] == name
                  for name, paths in images.items()
                  for result in inferencer(paths))
    assert correct > 2 * 5 * len(images) / len(CLASSES)
