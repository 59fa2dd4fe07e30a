"""mmpretrain's inference APIs and the demo with the package's configs."""
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmpretrain import (FeatureExtractor, ImageClassificationInferencer,
                        get_model)

pytestmark = pytest.mark.usefixtures('pretrain_scope')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'mobilemamba',
                  'mobilemamba-t2_8xb128_in1k.py')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """A T2 checkpoint with non-trivial weights."""
    torch.manual_seed(0)
    model = get_model(CONFIG)
    model.init_weights()
    path = tmp_path_factory.mktemp('ckpt') / 't2.pth'
    torch.save(dict(state_dict=model.state_dict()), path)
    return str(path)


@pytest.fixture(scope='module')
def image(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp('img') / 'image.png'
    cv2.imwrite(str(path), rng.integers(0, 255, (240, 320, 3), np.uint8))
    return str(path)


def test_get_model_loads_the_checkpoint(checkpoint):
    model = get_model(CONFIG, pretrained=checkpoint)
    state = torch.load(checkpoint, weights_only=True)['state_dict']
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key])


def test_inferencer(checkpoint, image, tmp_path):
    inferencer = ImageClassificationInferencer(
        model=CONFIG, pretrained=checkpoint, device='cpu')
    result = inferencer(image, show_dir=str(tmp_path))[0]
    assert result['pred_scores'].shape == (1000, )
    assert result['pred_scores'].sum() == pytest.approx(1, abs=1e-4)
    assert isinstance(result['pred_class'], str)
    assert (tmp_path / 'image.png').exists()


def test_feature_extractor(checkpoint, image):
    pooled = FeatureExtractor(
        model=CONFIG, pretrained=checkpoint, device='cpu')(image)[0]
    assert pooled[0].shape == (368, )
    stages = FeatureExtractor(
        model=CONFIG, pretrained=checkpoint, device='cpu')(
            image, stage='backbone')[0]
    # The test pipeline resizes to 219 and crops 192: stage 3 is 3x3.
    assert stages[0].shape == (368, 3, 3)


def test_demo_writes_an_annotated_png(checkpoint, image, tmp_path):
    out_file = tmp_path / 'result.png'
    result = subprocess.run([
        sys.executable,
        osp.join(REPO, 'demo', 'image_demo.py'), image, CONFIG, checkpoint,
        '--out-file',
        str(out_file), '--topk', '3'
    ],
                            capture_output=True,
                            text=True,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(': 0.') == 3
    annotated = cv2.imread(str(out_file))
    original = cv2.imread(image)
    assert annotated.shape == original.shape
    assert not np.array_equal(annotated, original)  # the label is drawn
