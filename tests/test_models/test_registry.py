"""The package's own registry scope, reachable from every toolbox."""
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
from mmengine.config import Config

from mmmobilemamba.models import MobileMamba
from mmmobilemamba.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BACKBONE = dict(type='mmmobilemamba.MobileMamba', arch='t2')


def test_own_child_registry():
    from mmengine.registry import MODELS as ROOT
    assert MODELS.scope == 'mmmobilemamba'
    assert MODELS.parent is ROOT
    assert ROOT.children['mmmobilemamba'] is MODELS
    assert MODELS.get('MobileMamba') is MobileMamba


@pytest.mark.parametrize('toolbox', ['mmdet', 'mmseg', 'mmpretrain'])
def test_toolbox_registries_build_the_backbone(toolbox):
    registry = __import__(f'{toolbox}.registry', fromlist=['MODELS']).MODELS
    from mmengine.registry import init_default_scope
    init_default_scope(toolbox)
    model = registry.build(BACKBONE)
    assert isinstance(model, MobileMamba)


def readme_config():
    """The MMDetection config shown in README.md."""
    with open(osp.join(REPO, 'README.md')) as f:
        readme = f.read()
    section = readme.split('## Use it in the configs you already run', 1)[1]
    return re.search(r'```python\n(.*?)```', section, re.S).group(1)


def test_readme_detector_config_runs(tmp_path):
    from mmdet.apis import inference_detector, init_detector
    path = tmp_path / 'retinanet_mobilemamba.py'
    path.write_text(readme_config())
    cfg = Config.fromfile(str(path))
    assert cfg.model.backbone.type == 'mmmobilemamba.MobileMamba'
    cfg.model.backbone.init_cfg = None  # no released weights here
    detector = init_detector(cfg, device='cpu')
    assert isinstance(detector.backbone, MobileMamba)
    image = np.random.randint(0, 255, (320, 320, 3), dtype=np.uint8)
    result = inference_detector(detector, image)
    assert result.pred_instances.bboxes.shape[1] == 4


def test_segmentor_with_backbone_runs():
    from mmengine.registry import init_default_scope
    from mmseg.apis import inference_model
    init_default_scope('mmseg')
    from mmseg.registry import MODELS as SEG_MODELS
    cfg = Config(
        dict(
            model=dict(
                type='EncoderDecoder',
                data_preprocessor=dict(
                    type='SegDataPreProcessor',
                    mean=[123.675, 116.28, 103.53],
                    std=[58.395, 57.12, 57.375],
                    bgr_to_rgb=True,
                    size=(256, 256)),
                backbone=dict(BACKBONE, out_indices=(3, )),
                decode_head=dict(
                    type='FCNHead',
                    in_channels=368,
                    channels=64,
                    num_convs=1,
                    num_classes=4,
                    in_index=0,
                    norm_cfg=dict(type='BN')),
                test_cfg=dict(mode='whole')),
            test_pipeline=[
                dict(type='LoadImageFromNDArray'),
                dict(type='PackSegInputs')
            ]))
    model = SEG_MODELS.build(cfg.model).eval()
    model.cfg = cfg
    result = inference_model(
        model, np.random.randint(0, 255, (256, 256, 3), dtype=np.uint8))
    assert result.pred_sem_seg.data.shape == (1, 256, 256)


def test_backbone_imports_without_toolboxes():
    """torch + mmengine + mmcv are enough for the backbone and the ops."""
    code = '\n'.join([
        'import sys',
        'for name in ("mmdet", "mmseg", "mmpretrain"):',
        '    sys.modules[name] = None',
        'import torch',
        'import mmmobilemamba',
        'from mmmobilemamba.models import MobileMamba',
        'out, = MobileMamba("t2").eval()(torch.randn(1, 3, 64, 64))',
        'assert out.shape == (1, 368, 1, 1)',
        'assert not any(sys.modules.get(n) for n in',
        '               ("mmdet", "mmseg", "mmpretrain"))',
        'print("ok")',
    ])
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True,
                            text=True,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith('ok')
