# MobileMamba-B1 as the official detection configs use it: stages 1-3
# (200/376/448 channels at strides 16/32/64), BN frozen (norm_eval=True),
# initialised from the ImageNet classifier. Convert the official
# mobilemamba_b1.pth with tools/model_converters/mobilemamba_to_mmpretrain.py
# to the path below, or point ``checkpoint`` elsewhere.
# Detection configs use it as ``backbone={{_base_.mobilemamba_b1}}``.
custom_imports = dict(imports=['mmmobilemamba'], allow_failed_imports=False)

mobilemamba_b1 = dict(
    _delete_=True,
    type='mmmobilemamba.MobileMamba',
    arch='b1',
    out_indices=(1, 2, 3),
    norm_eval=True,
    init_cfg=dict(
        type='Pretrained',
        checkpoint='checkpoints/mobilemamba-b1_in1k.pth',
        prefix='backbone.'))
