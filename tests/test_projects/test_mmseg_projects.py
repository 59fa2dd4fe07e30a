"""The mmseg project configs change only the backbone and the decoders'
inputs, and each trains one iteration on the toy ADE20K-format data."""
import pytest
import torch
from mmengine.config import Config
from project_runner import (changed, load, logged_losses, shrink_pipeline,
                            train_iterations, unexpected_changes)

pytest.importorskip('mmseg')

UPERNET = ('mobilemamba_mmseg/configs/'
           'upernet_mobilemamba-b4_4xb4-160k_ade20k-512x512.py')
SEGFORMER_HEAD = ('mobilemamba_mmseg/configs/'
                  'segformer-head_mobilemamba-b4_8xb2-160k_ade20k-512x512.py')
CONFIGS = (UPERNET, SEGFORMER_HEAD)
UPSTREAM = {
    UPERNET:
    'mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py',
    SEGFORMER_HEAD:
    'mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py',
}
DECODER_INPUTS = {
    'model.decode_head.in_channels', 'model.decode_head.in_index'
}
# What each config may change in its upstream config.
CHANGES = {
    UPERNET: {
        'custom_imports', 'model.backbone', 'model.pretrained',
        'model.auxiliary_head.in_channels', 'model.auxiliary_head.in_index',
        *DECODER_INPUTS
    },
    SEGFORMER_HEAD: {'custom_imports', 'model.backbone', *DECODER_INPUTS},
}
# The 512x512 crops (and the 2048x512 resize) become 128x128 (512x128).
SHRINK = 4
HEADS = {
    UPERNET: ('decode_head.', 'auxiliary_head.'),
    SEGFORMER_HEAD: ('decode_head.', )
}
LOSSES = {
    UPERNET: {'decode.loss_ce', 'aux.loss_ce'},
    SEGFORMER_HEAD: {'decode.loss_ce'}
}


def use_toy_data(cfg, root):
    """Train ``cfg`` on the toy data (ADE20K's layout and label convention,
    classes 0-4 of ADE20K's 150) at a quarter of its image size."""
    dataset = cfg.train_dataloader.dataset
    dataset.data_root = root
    shrink_pipeline(dataset.pipeline, SHRINK)
    preprocessor = cfg.model.data_preprocessor
    preprocessor.size = tuple(s // SHRINK for s in preprocessor.size)
    return cfg


@pytest.mark.parametrize('path', CONFIGS)
def test_config_swaps_only_the_backbone(path):
    cfg = load(path, pretrained=True)
    upstream = Config.fromstring(f'_base_ = {UPSTREAM[path]!r}', '.py')
    assert unexpected_changes(upstream, cfg, CHANGES[path]) == set()
    backbone = cfg.model.backbone
    assert backbone.type == 'mmmobilemamba.MobileMamba'
    assert backbone.arch == 'b4'
    assert backbone.init_cfg == dict(
        type='Pretrained',
        checkpoint='checkpoints/mobilemamba-b4_in1k.pth',
        prefix='backbone.')


@pytest.mark.parametrize('path', CONFIGS)
def test_trains_one_iteration(path, toy_seg_root, tmp_path):
    cfg = use_toy_data(load(path), toy_seg_root)
    runner, before = train_iterations(cfg, tmp_path)
    assert LOSSES[path] <= set(logged_losses(runner))
    after = runner.model.state_dict()
    for prefix in ('backbone.', *HEADS[path]):
        assert changed(before, after, prefix), prefix

    # Both decoders score ADE20K's 150 classes at the finest backbone
    # stride, 16.
    model = runner.model.eval()
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 128, 128), mode='tensor')
    assert logits.shape == (1, 150, 8, 8)
