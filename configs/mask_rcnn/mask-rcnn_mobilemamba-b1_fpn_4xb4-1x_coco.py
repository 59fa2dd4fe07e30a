_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    '../_base_/models/mobilemamba-b1_det.py',
    '../_base_/schedules/mobilemamba_det_adamw_1x.py',
]

# Mask R-CNN with MobileMamba-B1 on COCO, 1x schedule, as the official
# config. Two transposed-conv levels give the stride-4 and stride-8 maps the
# RPN and RoI heads expect (strides 4/8/16/32/64).
model = dict(
    backbone={{_base_.mobilemamba_b1}},
    neck=dict(
        _delete_=True,
        type='mmmobilemamba.TransConvFPN',
        in_channels=[200, 376, 448],
        out_channels=256,
        start_level=0,
        num_outs=5,
        num_extra_trans_convs=2))

train_cfg = dict(max_epochs=12)
# The official total batch: 4 GPUs x 4 images (7330 iterations per COCO
# epoch in the authors' logs). Other GPU counts scale the lr from it.
# CheckedCocoDataset: CocoDataset that names a bad image or annotation file.
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    dataset=dict(type='mmmobilemamba.CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='mmmobilemamba.CheckedCocoDataset'))
test_dataloader = val_dataloader
auto_scale_lr = dict(enable=True, base_batch_size=16)
param_scheduler = {{_base_.warmup_cosine_1x}}
optim_wrapper = {{_base_.adamw_optim_wrapper}}
# Checkpoints written atomically: a killed run leaves the last good one.
default_hooks = dict(
    checkpoint=dict(type='mmmobilemamba.AtomicCheckpointHook'))
