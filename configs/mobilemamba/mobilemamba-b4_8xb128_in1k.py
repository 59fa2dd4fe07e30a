_base_ = [
    '../_base_/models/mobilemamba.py',
    '../_base_/datasets/imagenet_bs128_mobilemamba.py',
    '../_base_/schedules/imagenet_bs1024_adamw_mobilemamba.py',
]

# MobileMamba-B4, trained and evaluated at 512x512.
model = dict(backbone=dict(arch='b4'), head=dict(in_channels=448))
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.train_pipelines.res512}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipelines.res512}}))
test_dataloader = val_dataloader
