from .trans_conv_fpn import TransConvFPN

__all__ = ['TransConvFPN']
