"""The package and the toolboxes import beside transformers 5.

mmpretrain 1.2.0's multimodal models break on transformers 5 (``TypeError:
NoneType takes no arguments``), and with them ``import mmdet.models``.
``tools/setup_env.sh`` keeps a transformers 5 apart in
``<env>/extras/transformers-<version>`` (not on the path of other tests, as
importing it costs seconds per process); the checks run in a subprocess that
appends it to ``sys.path`` (so the environment's own packages stay first).
"""
import glob
import os.path as osp
import subprocess
import sys
import textwrap

import pytest

from mmmobilemamba.toolbox_compat import FIRST_INCOMPATIBLE_TRANSFORMERS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def transformers_5_path():
    """The folder to append to ``sys.path`` for a transformers 5 ('' where
    the environment has one itself)."""
    from importlib import metadata
    try:
        major = int(metadata.version('transformers').split('.')[0])
    except metadata.PackageNotFoundError:
        major = 0
    if major >= FIRST_INCOMPATIBLE_TRANSFORMERS:
        return ''
    found = sorted(glob.glob(osp.join(sys.prefix, 'extras', 'transformers-*')))
    if not found:
        pytest.skip('no transformers 5: tools/setup_env.sh installs one in '
                    f'{sys.prefix}/extras')
    return found[-1]


def run_python(code, extra_path):
    code = (f'import sys; sys.path.append({extra_path!r})\n' +
            textwrap.dedent(code))
    return subprocess.run([sys.executable, '-c', code],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=300)


def test_without_the_guard_the_toolboxes_break():
    """The environment reproduces the failure (else the next test proves
    nothing)."""
    result = run_python(
        """
        from importlib import metadata
        assert int(metadata.version('transformers').split('.')[0]) >= 5
        import mmdet.models
        """, transformers_5_path())
    assert result.returncode != 0
    assert 'NoneType takes no arguments' in result.stderr


def test_package_and_configs_work_beside_transformers_5():
    result = run_python(
        """
        import mmmobilemamba  # first, as configs' custom_imports do
        import mmdet.models, mmseg.models, mmpretrain.models
        import torch
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        from mmpretrain.registry import MODELS as CLS_MODELS
        from mmdet.registry import MODELS as DET_MODELS
        cfg = Config.fromfile(
            'configs/mobilemamba/toy/mobilemamba-t2_1xb32_toy-cls.py')
        init_default_scope('mmpretrain')
        model = CLS_MODELS.build(cfg.model).eval()
        with torch.no_grad():
            print('logits', tuple(model(torch.rand(1, 3, 64, 64)).shape))
        cfg = Config.fromfile(
            'configs/retinanet/toy/retinanet_mobilemamba-t2_fpn_toy-det.py')
        init_default_scope('mmdet')
        print('detector', type(DET_MODELS.build(cfg.model)).__name__)
        # The multimodal models are placeholders that say what is missing.
        init_default_scope('mmpretrain')
        try:
            CLS_MODELS.build(dict(type='BlipCaption'))
        except ImportError as error:
            print('placeholder:', error)
        """, transformers_5_path())
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'logits (1, 6)' in result.stdout, result.stdout
    assert 'detector RetinaNet' in result.stdout
    # (mmpretrain's placeholders all name its last multimodal model)
    assert 'requires extra multi-modal dependencies' in result.stdout
