_base_ = 'mmdet::yolox/yolox_s_8xb8-300e_coco.py'
custom_imports = dict(imports=['mmmobilemamba'], allow_failed_imports=False)

# YOLOX-S with MobileMamba-B1 in place of CSPDarknet-S. The PAFPN takes the
# backbone's levels 1-3 as they are, so the head's strides move from 8/16/32
# to 16/32/64. The PAFPN upsamples by 2 and concatenates, so every batch, the
# multi-scale resized ones included, must be a multiple of the coarsest
# stride, 64. The ImageNet weights expect RGB input normalised as in
# MMPretrain; upstream YOLOX feeds raw BGR pixels.
model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=64,
        batch_augments=[
            dict(
                type='BatchSyncRandomResize',
                random_size_range=(480, 800),
                size_divisor=64,
                interval=10)
        ]),
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
    neck=dict(in_channels=[200, 376, 448]),
    bbox_head=dict(strides=(16, 32, 64)))
