_base_ = 'mmpretrain::resnet/resnet50_8xb32_in1k.py'
custom_imports = dict(imports=['mmmobilemamba'], allow_failed_imports=False)

# Fine-tune all of MobileMamba-B1, initialised from its ImageNet classifier,
# on a folder dataset read by MMPretrain's CustomDataset (one sub-folder per
# class; the classes are the sorted folder names):
#   data/custom_dataset/train/<class>/<image>
#   data/custom_dataset/val/<class>/<image>
# Set num_classes to the number of class folders. The base is ResNet-50's
# ImageNet config: its 224x224 pipelines, one GPU of 32 images.
num_classes = 10
data_root = 'data/custom_dataset'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmmobilemamba.MobileMamba',
        arch='b1',
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/mobilemamba-b1_in1k.pth',
            prefix='backbone.')),
    head=dict(num_classes=num_classes, in_channels=448))
data_preprocessor = dict(num_classes=num_classes)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        data_prefix='val',
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader

# AdamW, one warm-up epoch, then cosine to zero over 30 epochs.
max_epochs = 30
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        by_epoch=True,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=1,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=32)
