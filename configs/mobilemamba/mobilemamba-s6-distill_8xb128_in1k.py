_base_ = './mobilemamba-s6_8xb128_in1k.py'

# MobileMamba-S6†: the official distilled recipe, 1000 epochs with soft
# distillation from a TResNet-L-v2 teacher (ImageNet top-1 83.9) that sees
# the same augmented images, resized to 224 and scaled to [0, 1]. Set
# model.teacher_ckpt to the teacher's weights; any mmpretrain classifier
# over the same 1000 classes can be the teacher.
model = dict(
    type='mmmobilemamba.DistillationClassifier',
    teacher=dict(type='TimmClassifier', model_name='tresnet_v2_l'),
    teacher_ckpt=None,
    distill_loss=dict(
        type='mmmobilemamba.SoftDistillationLoss', tau=1.0, loss_weight=1.0),
    teacher_size=224,
    teacher_mean=[0., 0., 0.],
    teacher_std=[255., 255., 255.])

train_cfg = dict(max_epochs=1000)
