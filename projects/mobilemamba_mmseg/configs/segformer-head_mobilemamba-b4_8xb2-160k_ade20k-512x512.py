_base_ = 'mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mmmobilemamba'], allow_failed_imports=False)

# SegFormer's all-MLP decoder (SegformerHead, as in SegFormer-B0) on ADE20K
# with MobileMamba-B4 in place of MiT-B0: the head fuses the backbone's
# levels 1-3 (strides 16/32/64) at stride 16.
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmmobilemamba.MobileMamba',
        arch='b4',
        out_indices=(1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/mobilemamba-b4_in1k.pth',
            prefix='backbone.')),
    decode_head=dict(in_channels=[200, 376, 448], in_index=[0, 1, 2]))
