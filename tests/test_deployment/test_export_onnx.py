"""tools/deployment/export_onnx.py: every variant, with the official fixture
weights, exports to standard ONNX that onnxruntime runs like PyTorch."""
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmmobilemamba.models.utils import convert_official_state_dict

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
VARIANTS = ['t2', 't4', 's6', 'b1', 'b2', 'b4']
# 12 x 10 tokens after the stride-16 stem: a chunked (padded) scan in
# stage 1, odd widths for the wavelet transform in stages 2 and 3.
SHAPE = (192, 160)
ATOL = 1e-4


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location(
        'export_onnx', osp.join(REPO, 'tools', 'deployment', 'export_onnx.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def config(arch):
    return Config.fromfile(
        osp.join(REPO, 'configs', 'mobilemamba',
                 f'mobilemamba-{arch}_8xb128_in1k.py'))


@pytest.fixture
def fixture_checkpoint(fixtures_dir, make_weights, tmp_path):
    """``fixture_checkpoint('t2')``: the fixture weights of a variant,
    converted and saved as an mmpretrain checkpoint."""

    def save(arch):
        weights = make_weights.make_state_dict(
            osp.join(fixtures_dir, 'keys', f'{arch}_cls.tsv'), seed=0)
        path = tmp_path / f'{arch}.pth'
        torch.save(dict(state_dict=convert_official_state_dict(weights)), path)
        return str(path)

    return save


@pytest.mark.parametrize('arch', VARIANTS)
def test_onnxruntime_matches_pytorch(arch, tool, fixture_checkpoint, tmp_path):
    """Exported at batch 1, run at batch 2: standard ops, no loop, the
    PyTorch logits within 1e-4."""
    model = tool.build_model(config(arch), fixture_checkpoint(arch))
    path = str(tmp_path / f'{arch}.onnx')
    assert tool.export(model, path, SHAPE) == ['logits']
    assert not any(m.training for m in model.modules())  # still eval

    graph = onnx.load(path)
    assert {n.domain for n in graph.graph.node} <= {'', 'ai.onnx'}
    op_types = {n.op_type for n in graph.graph.node}
    assert not op_types & {'Loop', 'Scan', 'If'}
    assert 'BatchNormalization' not in op_types  # fused
    assert graph.opset_import[0].version == tool.DEFAULT_OPSET
    assert tool.check_graph(path)[('', 'Conv')] > 0

    session = tool.ort_session(path)
    inputs = torch.randn(
        2, 3, *SHAPE, generator=torch.Generator().manual_seed(0))
    diffs = tool.max_abs_diff(model, session, inputs)
    assert diffs['logits'] <= ATOL, diffs
    logits = tool.run_ort(session, inputs)[0]
    assert logits.shape == (2, 1000)
    # A real comparison: batch items differ, and so do their logits.
    assert abs(logits[0] - logits[1]).max() > 1e-2


def test_native_resolution_reproduces_official(tool, fixture_checkpoint,
                                               fixture_file, tmp_path):
    """T2 at 192 x 192: onnxruntime gives the official fused logits."""
    model = tool.build_model(config('t2'), fixture_checkpoint('t2'))
    path = str(tmp_path / 't2.onnx')
    tool.export(model, path, (192, 192))
    inputs = fixture_file('t2', 'input.pt')['input']
    expected = fixture_file('t2', 'expected.pt')['logits_fused']
    logits = tool.run_ort(tool.ort_session(path), inputs)[0]
    torch.testing.assert_close(
        torch.from_numpy(logits), expected, atol=ATOL, rtol=ATOL)


def test_backbone_levels(tool, fixture_checkpoint, tmp_path):
    """--backbone-only: one dynamic-batch output per requested level."""
    model = tool.build_model(
        config('b1'),
        fixture_checkpoint('b1'),
        backbone_only=True,
        out_indices=(0, 1, 2, 3))
    path = str(tmp_path / 'backbone.onnx')
    assert tool.export(model, path,
                       SHAPE) == ['level0', 'level1', 'level2', 'level3']
    tool.check_graph(path)
    session = tool.ort_session(path)
    inputs = torch.randn(3, 3, *SHAPE)
    outs = tool.run_ort(session, inputs)
    assert [o.shape for o in outs] == [(3, 200, 12, 10), (3, 200, 12, 10),
                                       (3, 376, 6, 5), (3, 448, 3, 3)]
    diffs = tool.max_abs_diff(model, session, inputs)
    assert max(diffs.values()) <= ATOL, diffs


def test_command_line(tool, fixture_checkpoint, tmp_path, capsys):
    """The command line exports, verifies and times both runtimes."""
    out = str(tmp_path / 't2.onnx')
    result = tool.main([
        osp.join(REPO, 'configs', 'mobilemamba',
                 'mobilemamba-t2_8xb128_in1k.py'),
        fixture_checkpoint('t2'), '--out', out, '--shape', '64', '64',
        '--benchmark', '--batch-size', '1', '2', '--warmup', '0', '--repeat',
        '1'
    ])
    assert osp.isfile(out)
    assert result['max_abs_diff']['logits'] <= ATOL
    assert [(r['runtime'], r['batch_size']) for r in result['benchmark']
            ] == [('pytorch', 1), ('onnxruntime', 1), ('pytorch', 2),
                  ('onnxruntime', 2)]
    printed = capsys.readouterr().out
    assert 'standard ONNX operators only' in printed
    assert 'max abs diff logits' in printed


def test_mismatching_checkpoint_is_refused(tool, fixture_checkpoint):
    """A T2 checkpoint for a B1 config names the mismatch."""
    with pytest.raises(Exception, match='shape|size'):
        tool.build_model(config('b1'), fixture_checkpoint('t2'))


def test_out_indices_need_backbone_only(tool):
    with pytest.raises(ValueError, match='--backbone-only'):
        tool.build_model(config('t2'), out_indices=(0, ))
