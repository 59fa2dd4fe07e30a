_base_ = [
    '../_base_/models/mobilemamba.py',
    '../_base_/datasets/imagenet_bs128_mobilemamba.py',
    '../_base_/schedules/imagenet_bs1024_adamw_mobilemamba.py',
]

# MobileMamba-T4, trained and evaluated at 192x192.
model = dict(backbone=dict(arch='t4'), head=dict(in_channels=448))
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.train_pipelines.res192}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipelines.res192}}))
test_dataloader = val_dataloader
