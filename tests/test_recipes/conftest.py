"""Helpers shared by the recipe-fidelity tests."""
import glob
import importlib.util
import os.path as osp

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: The 12 ImageNet training configs (plain and distilled, no deploy/toy).
IMAGENET_CONFIGS = sorted(
    osp.relpath(p, REPO)
    for p in glob.glob(osp.join(REPO, 'configs', 'mobilemamba', '*.py')))


def load(path):
    return Config.fromfile(osp.join(REPO, path))


def official_module(name):
    """A module of ``tests/data/official`` (not a package)."""
    path = osp.join(REPO, 'tests', 'data', 'official', f'{name}.py')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
