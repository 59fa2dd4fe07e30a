from .mobilemamba_cls_head import MobileMambaClsHead

__all__ = ['MobileMambaClsHead']
