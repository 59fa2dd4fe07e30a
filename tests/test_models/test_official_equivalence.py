"""Every variant reproduces the official MobileMamba outputs.

Weights come from the fixtures' deterministic generator in the official key
layout and travel the path of a real official checkpoint: written to disk,
read with ``weights_only``, converted, loaded strictly.
"""
import json
import os.path as osp

import pytest
import torch
from mmpretrain import get_model

from mmmobilemamba.models import MobileMamba
from mmmobilemamba.models.utils import (convert_official_state_dict,
                                        load_official_checkpoint)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
VARIANTS = ['t2', 't4', 's6', 'b1', 'b2', 'b4']
TOL = dict(atol=1e-4, rtol=1e-4)


def config_path(arch, deploy=False):
    folder = 'mobilemamba/deploy' if deploy else 'mobilemamba'
    return osp.join(REPO, 'configs', folder,
                    f'mobilemamba-{arch}_8xb128_in1k.py')


def official_weights(fixtures_dir, make_weights, tsv, meta_name):
    state_dict = make_weights.make_state_dict(
        osp.join(fixtures_dir, 'keys', tsv), seed=0)
    with open(osp.join(fixtures_dir, meta_name, 'meta.json')) as f:
        meta = json.load(f)
    # A changed RNG would show up here, not as a model mismatch.
    assert make_weights.state_dict_sha256(state_dict) == meta['weights_sha256']
    return state_dict


def convert_to_file(state_dict, tmp_path, name='converted.pth'):
    """Official state dict -> file -> weights_only read -> converted file."""
    official = tmp_path / 'official.pth'
    torch.save(state_dict, official)
    converted = tmp_path / name
    torch.save(
        dict(
            state_dict=convert_official_state_dict(
                load_official_checkpoint(str(official)))), converted)
    return str(converted)


@pytest.fixture
def inputs_and_expected(fixture_file):
    """``(input, expected outputs)`` of a fixture folder."""

    def load(name):
        return (fixture_file(name, 'input.pt')['input'],
                fixture_file(name, 'expected.pt'))

    return load


@pytest.mark.parametrize('arch', VARIANTS)
def test_classifier_matches_official(arch, fixtures_dir, make_weights,
                                     inputs_and_expected, tmp_path):
    weights = official_weights(fixtures_dir, make_weights, f'{arch}_cls.tsv',
                               arch)
    ckpt = convert_to_file(weights, tmp_path)
    inputs, expected = inputs_and_expected(arch)

    model = get_model(config_path(arch), pretrained=ckpt).eval()
    with torch.no_grad():
        torch.testing.assert_close(
            model(inputs, mode='tensor'), expected['logits'], **TOL)
        pooled = model.extract_feat(inputs)[-1]
        torch.testing.assert_close(pooled, expected['pooled'], **TOL)

    # Every level, loaded the way detectors/segmentors load a backbone.
    backbone = MobileMamba(
        arch,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=ckpt, prefix='backbone.'))
    backbone.init_weights()
    with torch.no_grad():
        outs = backbone.eval()(inputs)
    for name, out in zip(('stem', 'stage1', 'stage2', 'stage3'), outs):
        torch.testing.assert_close(out, expected[name], **TOL, msg=name)

    # BN fusion of the whole classifier, in place.
    model.switch_to_deploy()
    assert not any(
        isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
        for m in model.modules())
    with torch.no_grad():
        fused_logits = model(inputs, mode='tensor')
    torch.testing.assert_close(fused_logits, expected['logits_fused'], **TOL)

    # The fused state dict loads into the deploy=True config.
    fused_ckpt = tmp_path / 'fused.pth'
    torch.save(dict(state_dict=model.state_dict()), fused_ckpt)
    deployed = get_model(
        config_path(arch, deploy=True), pretrained=str(fused_ckpt)).eval()
    with torch.no_grad():
        torch.testing.assert_close(
            deployed(inputs, mode='tensor'), fused_logits, atol=0, rtol=0)


@pytest.mark.parametrize('name,tsv', [('b1_det', 'b1_det_backbone.tsv'),
                                      ('b4_seg', 'b4_seg_backbone.tsv')])
def test_downstream_backbone_matches_official(name, tsv, fixtures_dir,
                                              make_weights,
                                              inputs_and_expected, tmp_path):
    """Official det (B1, 320x320) and seg (B4, 448x320) backbones."""
    weights = official_weights(fixtures_dir, make_weights, tsv, name)
    ckpt = convert_to_file(weights, tmp_path)
    inputs, expected = inputs_and_expected(name)
    arch = name.split('_')[0]

    def backbone(out_indices):
        model = MobileMamba(
            arch,
            out_indices=out_indices,
            norm_eval=True,
            init_cfg=dict(
                type='Pretrained', checkpoint=ckpt, prefix='backbone.'))
        model.init_weights()
        return model.eval()

    with torch.no_grad():
        outs = backbone((1, 2, 3))(inputs)
        stem, = backbone(0)(inputs)
    for i, out in enumerate(outs):
        torch.testing.assert_close(out, expected[f'out{i}'], **TOL)
    torch.testing.assert_close(stem, expected['stem'], **TOL)


def test_official_detector_checkpoint_converts(fixtures_dir, make_weights,
                                               tmp_path):
    """A whole official detector checkpoint: backbone renamed, rest kept."""
    weights = official_weights(fixtures_dir, make_weights,
                               'b1_det_backbone.tsv', 'b1_det')
    neck = {'neck.lateral_convs.0.conv.weight': torch.randn(256, 200, 1, 1)}
    detector = dict(
        state_dict=dict({
            f'backbone.{k}': v
            for k, v in weights.items()
        }, **neck),
        meta=dict(epoch=12))
    path = tmp_path / 'detector.pth'
    torch.save(detector, path)
    converted = convert_official_state_dict(load_official_checkpoint(path))
    assert converted['neck.lateral_convs.0.conv.weight'] is not None
    torch.testing.assert_close(converted['neck.lateral_convs.0.conv.weight'],
                               neck['neck.lateral_convs.0.conv.weight'])
    backbone = {
        k[len('backbone.'):]: v
        for k, v in converted.items() if k.startswith('backbone.')
    }
    MobileMamba('b1').load_state_dict(backbone, strict=True)


def test_distillation_head_matches_official(fixtures_dir, make_weights,
                                            fixture_file, inputs_and_expected,
                                            tmp_path):
    """The official (unused) ``distillation=True`` head: eval logits are the
    mean of both heads, before and after BN fusion."""
    weights = make_weights.make_state_dict(
        osp.join(fixtures_dir, 'keys', 't2_cls_distillation_head.tsv'), seed=0)
    ckpt = convert_to_file(weights, tmp_path)
    inputs, _ = inputs_and_expected('t2')
    expected = fixture_file('t2_distillation_head', 'expected.pt')
    model = get_model(
        config_path('t2'), pretrained=ckpt,
        head=dict(distillation=True)).eval()
    with torch.no_grad():
        torch.testing.assert_close(
            model(inputs, mode='tensor'), expected['logits'], **TOL)
        pooled = model.extract_feat(inputs)
        head = model.head
        torch.testing.assert_close(
            head.fc(head.norm(pooled[-1])), expected['logits_head'], **TOL)
        torch.testing.assert_close(
            head.fc_dist(head.norm_dist(pooled[-1])),
            expected['logits_head_dist'], **TOL)
        model.switch_to_deploy()
        torch.testing.assert_close(
            model(inputs, mode='tensor'), expected['logits_fused'], **TOL)


def test_batch_items_are_independent(fixtures_dir, make_weights,
                                     inputs_and_expected, tmp_path):
    """The official CPU merge mixes batch items (SPEC 14.1); ours does not."""
    weights = official_weights(fixtures_dir, make_weights, 'b1_cls.tsv', 'b1')
    ckpt = convert_to_file(weights, tmp_path)
    inputs, expected = inputs_and_expected('b1')
    model = get_model(config_path('b1'), pretrained=ckpt).eval()
    with torch.no_grad():
        single = torch.cat([model(x[None], mode='tensor') for x in inputs])
    torch.testing.assert_close(single, expected['logits'], **TOL)


@pytest.mark.parametrize('arch,params,trainable', [
    ('t2', 8_836_890, 8_806_682),
    ('t4', 14_176_090, 14_137_690),
    ('s6', 15_036_632, 14_996_696),
    ('b1', 17_122_849, 17_070_625),
])
def test_parameter_counts_match_official(arch, params, trainable):
    """Trainable parameters as the official model; the official total also
    counts the frozen Haar banks, which are buffers here."""
    model = get_model(config_path(arch))
    n_params = sum(p.numel() for p in model.parameters())
    n_haar = sum(b.numel() for name, b in model.named_buffers()
                 if name.endswith('wt_filter'))
    assert n_params == trainable
    assert n_params + n_haar == params
