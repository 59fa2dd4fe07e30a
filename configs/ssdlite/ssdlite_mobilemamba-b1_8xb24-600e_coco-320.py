_base_ = [
    'mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py',
    '../_base_/models/mobilemamba-b1_det.py',
    '../_base_/schedules/mobilemamba_ssdlite_adamw_600e.py',
]

# SSDLite with MobileMamba-B1 on COCO at 320x320. Stages 1-2 (200/376
# channels at strides 16/32) replace MobileNetV2's two outputs; the training
# recipe is the MobileMamba AdamW one instead of MobileNetV2's SGD. The head
# is mmdet's SSDHead with the attribute mmdet 3.3 misses for inference.
model = dict(
    backbone=dict(_base_.mobilemamba_b1, out_indices=(1, 2)),
    neck=dict(
        in_channels=(200, 376), out_channels=(200, 376, 512, 256, 256, 128)),
    bbox_head=dict(
        type='mmmobilemamba.SSDHead',
        in_channels=(200, 376, 512, 256, 256, 128)))
# Stage 3 is built (and counted in the paper's 18.0M) but never run.
find_unused_parameters = True

optim_wrapper = {{_base_.adamw_optim_wrapper}}
param_scheduler = {{_base_.warmup_cosine_120e}}

# CheckedCocoDataset: CocoDataset that names a bad image or annotation file.
train_dataloader = dict(
    dataset=dict(dataset=dict(type='mmmobilemamba.CheckedCocoDataset')))
val_dataloader = dict(dataset=dict(type='mmmobilemamba.CheckedCocoDataset'))
test_dataloader = val_dataloader
# Checkpoints written atomically: a killed run leaves the last good one.
default_hooks = dict(
    checkpoint=dict(type='mmmobilemamba.AtomicCheckpointHook'))
