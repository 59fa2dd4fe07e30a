from .soft_distillation_loss import SoftDistillationLoss

__all__ = ['SoftDistillationLoss']
