"""The package's own registry, a child of mmengine's root registry.

Configs of any OpenMMLab toolbox reach the modules registered here with the
scope prefix, e.g. ``dict(type='mmmobilemamba.MobileMamba', arch='b1')``.
mmengine imports ``mmmobilemamba.registry`` on the first such lookup and then
the ``locations`` below, so ``custom_imports`` is optional (but harmless).
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

MODELS = Registry(
    'model',
    parent=MMENGINE_MODELS,
    scope='mmmobilemamba',
    locations=['mmmobilemamba.models'])

PARAM_SCHEDULERS = Registry(
    'parameter scheduler',
    parent=MMENGINE_PARAM_SCHEDULERS,
    scope='mmmobilemamba',
    locations=['mmmobilemamba.engine'])

DATASETS = Registry(
    'dataset',
    parent=MMENGINE_DATASETS,
    scope='mmmobilemamba',
    locations=['mmmobilemamba.datasets.checked'])

TRANSFORMS = Registry(
    'transform',
    parent=MMENGINE_TRANSFORMS,
    scope='mmmobilemamba',
    locations=['mmmobilemamba.datasets.checked'])

HOOKS = Registry(
    'hook',
    parent=MMENGINE_HOOKS,
    scope='mmmobilemamba',
    locations=['mmmobilemamba.engine'])
