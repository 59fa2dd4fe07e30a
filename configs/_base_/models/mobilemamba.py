# MobileMamba image classifier (mmpretrain). Variant configs override the
# backbone arch and the head's in_channels (the last stage's width).
custom_imports = dict(imports=['mmmobilemamba'], allow_failed_imports=False)

model = dict(
    type='mmmobilemamba.MobileMambaClassifier',
    backbone=dict(type='mmmobilemamba.MobileMamba', arch='t2'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='mmmobilemamba.MobileMambaClsHead',
        num_classes=1000,
        in_channels=368,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        topk=(1, 5)),
    # Mixup 0.8 / CutMix 1.0, one of the two per batch.
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0)
    ]))
