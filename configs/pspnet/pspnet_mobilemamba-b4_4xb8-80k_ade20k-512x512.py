_base_ = [
    'mmseg::pspnet/pspnet_r50-d8_4xb4-80k_ade20k-512x512.py',
    '../_base_/models/mobilemamba-b4_seg.py',
    '../_base_/schedules/mobilemamba_seg_adamw_80k.py',
]

# PSPNet with MobileMamba-B4 on ADE20K, as the official config: the
# decode head reads stage 3 (448 channels, stride 64), the auxiliary head
# stage 2 (376 channels, stride 32).
model = dict(
    pretrained=None,
    backbone={{_base_.mobilemamba_b4}},
    decode_head=dict(in_channels=448, in_index=2, channels=256),
    auxiliary_head=dict(in_channels=376, in_index=1))

optim_wrapper = {{_base_.adamw_optim_wrapper}}
param_scheduler = {{_base_.warmup_cosine_80k}}
# CheckedADE20KDataset: ADE20KDataset that names a bad image or label map.
train_dataloader = dict(
    batch_size=8,
    num_workers=8,
    dataset=dict(type='mmmobilemamba.CheckedADE20KDataset'))
val_dataloader = dict(dataset=dict(type='mmmobilemamba.CheckedADE20KDataset'))
test_dataloader = val_dataloader
# Checkpoints written atomically: a killed run leaves the last good one.
default_hooks = dict(
    checkpoint=dict(type='mmmobilemamba.AtomicCheckpointHook'))
