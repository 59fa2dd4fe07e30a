_base_ = 'mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mmmobilemamba'], allow_failed_imports=False)

# UPerNet on ADE20K with MobileMamba-B4 in place of ResNet-50: the decoder
# takes the backbone's levels 1-3 (strides 16/32/64) and the auxiliary FCN
# head stage 2 (stride 32, as ResNet's stage 3 is the second-deepest).
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmmobilemamba.MobileMamba',
        arch='b4',
        out_indices=(1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/mobilemamba-b4_in1k.pth',
            prefix='backbone.')),
    decode_head=dict(in_channels=[200, 376, 448], in_index=[0, 1, 2]),
    auxiliary_head=dict(in_channels=376, in_index=1))
