"""``projects/README.md`` agrees with the code: its feature-level table with
the backbone's arch zoo, its DINO input sizes with the encoder's token
counts, its parameter counts with the built models, and every project
config is trained by a test."""
import importlib
import os.path as osp
import re

import pytest
import torch
from project_runner import PROJECTS, load, project_configs

from mmmobilemamba.analysis import count_parameters
from mmmobilemamba.models import MobileMamba
from mmmobilemamba.utils import setup_toolbox

README = osp.join(PROJECTS, 'README.md')
TEST_MODULES = ('test_mmdet_projects', 'test_mmseg_projects',
                'test_mmpretrain_finetune')
DINO = 'mobilemamba_mmdet/configs/dino-4scale_mobilemamba-b1_8xb2-12e_coco.py'
# The guide's neck for DINO with a stride-8 level (strides 8/16/32/64).
STRIDE_8_NECK = dict(
    type='mmmobilemamba.TransConvFPN',
    in_channels=[200, 376, 448],
    out_channels=256,
    num_outs=4,
    num_extra_trans_convs=1)


def readme_rows(pattern):
    """Regex matches of ``pattern`` against each line of the README."""
    with open(README) as f:
        return [m for m in map(re.compile(pattern).match, f) if m]


def test_every_project_config_is_trained_by_a_test():
    trained = set()
    for name in TEST_MODULES:
        module = importlib.import_module(name)
        trained |= {
            value
            for key, value in vars(module).items()
            if key.isupper() and isinstance(value, str) and value.endswith(
                '.py') and not osp.isabs(value) and '::' not in value
        }
    assert trained == set(project_configs())


def test_feature_level_table_matches_the_backbone():
    header, = readme_rows(r'\| arch \|(.*)\|$')
    strides = [int(s) for s in re.findall(r'stride (\d+)', header.group(1))]
    assert strides == list(MobileMamba.level_strides)
    rows = readme_rows(r'\| `(\w+)` \|((?: \d+ \|){4})$')
    table = {
        m.group(1): [int(c) for c in m.group(2).split('|')[:-1]]
        for m in rows
    }
    assert sorted(table) == sorted(MobileMamba.arch_zoo)
    for arch, channels in table.items():
        dims = MobileMamba.arch_zoo[arch]['embed_dims']
        assert channels == [dims[0], *dims], arch


@pytest.mark.parametrize('path, millions', [
    (m.group(1), float(m.group(2)))
    for m in readme_rows(r'\| `([\w./-]+\.py)`.*\| ([\d.]+)M \| [\d.]+G \|$')
])
def test_parameter_counts(path, millions):
    """As get_flops counts them: segmentors without the auxiliary head."""
    cfg = load(path)
    scope = setup_toolbox(cfg)
    registry = importlib.import_module(f'{scope}.registry')
    model = registry.MODELS.build(cfg.model)
    if getattr(model, 'auxiliary_head', None) is not None:
        model.auxiliary_head = None
    assert round(count_parameters(model) / 1e6, 2) == millions


def test_dino_smallest_inputs_match_the_token_counts():
    """Each row: the smallest square input whose encoder tokens (positions
    of every neck level) reach ``num_queries``, with the config's neck
    (strides 16-128) and with the stride-8 neck."""
    rows = readme_rows(r'\| (\d+) \| (\d+)x\2 \| (\d+)x\3 \|$')
    assert [int(m.group(1)) for m in rows] == [900, 300, 100]
    cfg = load(DINO)
    setup_toolbox(cfg)
    from mmdet.registry import MODELS
    backbone = MODELS.build(cfg.model.backbone).eval()
    necks = [MODELS.build(cfg.model.neck), MODELS.build(STRIDE_8_NECK)]

    def tokens(neck, side):
        with torch.no_grad():
            feats = neck(backbone(torch.zeros(1, 3, side, side)))
        return sum(feat.shape[-2] * feat.shape[-1] for feat in feats)

    for m in rows:
        num_queries = int(m.group(1))
        for neck, side in zip(necks, (int(m.group(2)), int(m.group(3)))):
            assert tokens(neck, side) >= num_queries > tokens(neck, side - 1)
