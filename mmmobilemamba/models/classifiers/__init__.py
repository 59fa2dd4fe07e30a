from .mobilemamba_classifier import MobileMambaClassifier

__all__ = ['MobileMambaClassifier']
