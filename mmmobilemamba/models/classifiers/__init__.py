from .distillation_classifier import DistillationClassifier
from .mobilemamba_classifier import MobileMambaClassifier

__all__ = ['DistillationClassifier', 'MobileMambaClassifier']
