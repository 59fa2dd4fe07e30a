_base_ = '../mobilemamba-s6_8xb128_in1k.py'

# BN-fused MobileMamba-S6 for inference: loads checkpoints written after
# model.switch_to_deploy().
model = dict(backbone=dict(deploy=True), head=dict(deploy=True))
