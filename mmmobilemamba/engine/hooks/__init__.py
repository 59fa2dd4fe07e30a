"""Hooks reachable from configs (``mmmobilemamba.X``)."""
from .atomic_checkpoint_hook import AtomicCheckpointHook

__all__ = ['AtomicCheckpointHook']
