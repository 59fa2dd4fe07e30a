_base_ = 'mmdet::rtmdet/rtmdet_s_8xb32-300e_coco.py'
custom_imports = dict(imports=['mmmobilemamba'], allow_failed_imports=False)

# RTMDet-S with MobileMamba-B1 in place of CSPNeXt-S. The PAFPN takes the
# backbone's levels 1-3 as they are, so the head's priors move from strides
# 8/16/32 to the backbone's 16/32/64, and since the PAFPN upsamples by 2,
# batches are padded to multiples of the coarsest stride, 64 (the 640x640
# pipelines already are). The ImageNet weights expect RGB input normalised
# as in MMPretrain, hence the data preprocessor (as in MMDet's ConvNeXt
# RTMDet config).
model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=64),
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
    bbox_head=dict(anchor_generator=dict(strides=[16, 32, 64])))
