_base_ = [
    '../_base_/models/mobilemamba.py',
    '../_base_/datasets/imagenet_bs128_mobilemamba.py',
    '../_base_/schedules/imagenet_bs1024_adamw_mobilemamba.py',
]

# MobileMamba-S6, trained and evaluated at 224x224.
model = dict(backbone=dict(arch='s6'), head=dict(in_channels=448))
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.train_pipelines.res224}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipelines.res224}}))
test_dataloader = val_dataloader
