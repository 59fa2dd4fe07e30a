_base_ = 'mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'
custom_imports = dict(imports=['mmmobilemamba'], allow_failed_imports=False)

# FCOS 1x with MobileMamba-B1 in place of the caffe-style ResNet-50. The
# upstream FPN starts at ResNet's stride 8; here a TransConvFPN starts at
# the backbone's level 1 (stride 16), one transposed conv gives stride 8 and
# the upstream extra conv stride 128, so the head keeps its strides
# 8/16/32/64/128. The ImageNet weights expect RGB input normalised as in
# MMPretrain, not caffe's BGR mean.
model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
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
    neck=dict(
        type='mmmobilemamba.TransConvFPN',
        in_channels=[200, 376, 448],
        start_level=0,
        num_extra_trans_convs=1))
