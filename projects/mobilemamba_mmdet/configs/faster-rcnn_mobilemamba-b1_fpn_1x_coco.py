_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmmobilemamba'], allow_failed_imports=False)

# Faster R-CNN R-50-FPN 1x with MobileMamba-B1 in place of ResNet-50. The
# backbone's levels 1-3 (strides 16/32/64) feed a TransConvFPN whose two
# transposed-conv levels add strides 8 and 4: the neck gives the strides
# 4/8/16/32/64 that the RPN anchors and the RoI extractor already use.
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
    neck=dict(
        type='mmmobilemamba.TransConvFPN',
        in_channels=[200, 376, 448],
        num_extra_trans_convs=2))
