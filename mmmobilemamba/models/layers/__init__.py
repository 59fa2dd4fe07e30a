from .depthwise_conv import DepthwiseConv2d, depthwise_conv_bn
from .ffn import ConvFFN
from .fold_activations import fold_activations
from .foldable_norm import is_foldable_norm
from .mobilemamba_block import MobileMambaBlock
from .mrffi import MRFFI, split_channels
from .patch_merging import PatchMerging
from .squeeze_excitation import SqueezeExcitation
from .ss2d import SS2D
from .stage_downsample import StageDownsample
from .stem_conv import StemConv2d
from .wte_mamba import WTEMamba

__all__ = [
    'ConvFFN', 'DepthwiseConv2d', 'MobileMambaBlock', 'MRFFI', 'PatchMerging',
    'SS2D', 'SqueezeExcitation', 'StageDownsample', 'StemConv2d', 'WTEMamba',
    'depthwise_conv_bn', 'fold_activations', 'is_foldable_norm',
    'split_channels'
]
