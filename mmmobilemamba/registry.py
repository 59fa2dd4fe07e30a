"""The package's own registry, a child of mmengine's root registry.

Configs of any OpenMMLab toolbox reach the modules registered here with the
scope prefix, e.g. ``dict(type='mmmobilemamba.MobileMamba', arch='b1')``.
mmengine imports ``mmmobilemamba.registry`` on the first such lookup and then
the ``locations`` below, so ``custom_imports`` is optional (but harmless).
"""
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

MODELS = Registry(
    'model',
    parent=MMENGINE_MODELS,
    scope='mmmobilemamba',
    locations=['mmmobilemamba.models'])
