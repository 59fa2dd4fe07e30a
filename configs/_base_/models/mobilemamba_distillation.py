# The official distilled (dagger) recipe: soft distillation from a
# TResNet-L-v2 teacher (ImageNet top-1 83.9) that sees the student's
# augmented images resized to 224 and scaled to [0, 1]. Variant configs use
# it as ``model = {{_base_.distillation}}`` and train 1000 epochs. Set
# ``model.teacher_ckpt`` to the teacher's weights; any mmpretrain classifier
# over the same 1000 classes can be the teacher.
distillation = dict(
    type='mmmobilemamba.DistillationClassifier',
    teacher=dict(type='TimmClassifier', model_name='tresnet_v2_l'),
    teacher_ckpt=None,
    distill_loss=dict(
        type='mmmobilemamba.SoftDistillationLoss', tau=1.0, loss_weight=1.0),
    teacher_size=224,
    teacher_mean=[0., 0., 0.],
    teacher_std=[255., 255., 255.])
