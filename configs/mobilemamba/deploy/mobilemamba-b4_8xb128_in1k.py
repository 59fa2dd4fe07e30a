_base_ = '../mobilemamba-b4_8xb128_in1k.py'

# BN-fused MobileMamba-B4 for inference: loads checkpoints written after
# model.switch_to_deploy().
model = dict(backbone=dict(deploy=True), head=dict(deploy=True))
