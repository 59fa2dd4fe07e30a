"""3x3 depthwise Conv-BN used as a residual branch throughout MobileMamba."""
from mmcv.cnn import ConvModule


def depthwise_conv_bn(channels: int, norm_cfg: dict,
                      deploy: bool) -> ConvModule:
    """3x3 depthwise Conv-BN without activation (biased conv if deploy)."""
    return ConvModule(
        channels,
        channels,
        3,
        padding=1,
        groups=channels,
        norm_cfg=None if deploy else norm_cfg,
        act_cfg=None,
        bias=deploy)
