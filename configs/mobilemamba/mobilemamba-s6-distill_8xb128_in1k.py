_base_ = [
    './mobilemamba-s6_8xb128_in1k.py',
    '../_base_/models/mobilemamba_distillation.py',
]

# MobileMamba-S6†: 1000 epochs distilled from a TResNet-L-v2 teacher.
model = {{_base_.distillation}}
train_cfg = dict(max_epochs=1000)
