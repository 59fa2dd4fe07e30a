# MobileMamba-B4 as the official segmentation configs use it: stages 1-3
# (200/376/448 channels at strides 16/32/64), BN trained (norm_eval=False),
# initialised from the ImageNet classifier. Convert the official
# mobilemamba_b4.pth with tools/model_converters/mobilemamba_to_mmpretrain.py
# to the path below, or point ``checkpoint`` elsewhere.
# Segmentation configs use it as ``backbone={{_base_.mobilemamba_b4}}``.
custom_imports = dict(imports=['mmmobilemamba'], allow_failed_imports=False)

mobilemamba_b4 = dict(
    _delete_=True,
    type='mmmobilemamba.MobileMamba',
    arch='b4',
    out_indices=(1, 2, 3),
    norm_eval=False,
    init_cfg=dict(
        type='Pretrained',
        checkpoint='checkpoints/mobilemamba-b4_in1k.pth',
        prefix='backbone.'))
