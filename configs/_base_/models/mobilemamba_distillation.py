# The official distilled (dagger) recipe: soft distillation from a
# TResNet-L-v2 teacher (ImageNet top-1 83.9) that sees the student's
# augmented images resized to 224 and scaled to [0, 1]. Variant configs use
# it as ``model = {{_base_.distillation}}`` and train 1000 epochs. Set
# ``model.teacher_ckpt`` to the teacher's weights (training refuses to start
# without them): the official tresnet_l_v2_83_9.pth loads as it is (its
# InplaceABN layout is converted). Any mmpretrain classifier over the same
# 1000 classes can be the teacher. The KD loss weight is the official
# CLSKDLoss lam=5.0 (configs/mobilemamba/mobilemamba_*s.py).
distillation = dict(
    type='mmmobilemamba.DistillationClassifier',
    teacher=dict(type='TimmClassifier', model_name='tresnet_v2_l'),
    teacher_ckpt=None,
    distill_loss=dict(
        type='mmmobilemamba.SoftDistillationLoss', tau=1.0, loss_weight=5.0),
    teacher_size=224,
    teacher_mean=[0., 0., 0.],
    teacher_std=[255., 255., 255.])
