_base_ = 'mmdet::dino/dino-4scale_r50_8xb2-12e_coco.py'
custom_imports = dict(imports=['mmmobilemamba'], allow_failed_imports=False)

# DINO 4-scale with MobileMamba-B1 in place of ResNet-50. The ChannelMapper
# maps the backbone's levels 1-3 (strides 16/32/64) to 256 channels and its
# extra conv adds stride 128: four levels, as the deformable attention
# (num_levels=4) expects. These levels are twice as coarse as ResNet's
# 8/16/32/64, so the encoder has a quarter of the tokens: 5600 at 800x1333,
# enough for the two-stage top-k of 900 queries, which inputs smaller than
# 401x401 are not (see ../../README.md for num_queries on small images).
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmmobilemamba.MobileMamba',
        arch='b1',
        out_indices=(1, 2, 3),
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/mobilemamba-b1_in1k.pth',
            prefix='backbone.')),
    neck=dict(in_channels=[200, 376, 448]))
