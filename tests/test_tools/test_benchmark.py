"""tools/analysis_tools/benchmark.py (a smoke test: timings are not
asserted)."""
import importlib.util
import json
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def benchmark():
    spec = importlib.util.spec_from_file_location(
        'benchmark', osp.join(REPO, 'tools', 'analysis_tools', 'benchmark.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FAST = ['--resolution', '64', '--warmup', '0', '--repeat', '1']


def test_inference_rows_and_json(benchmark, tmp_path, capsys):
    out = tmp_path / 'bench.json'
    rows = benchmark.main([
        '--arch', 't2', '--batch-size', '1', '2', '--backends', 'torch',
        'torch', '--fuse', '--json',
        str(out), *FAST
    ])
    assert [(r['batch_size'], r['backend']) for r in rows] == [(1, 'torch'),
                                                               (1, 'torch'),
                                                               (2, 'torch'),
                                                               (2, 'torch')]
    assert all(r['latency_ms'] > 0 and r['images_per_s'] > 0 for r in rows)
    assert all(r['dtype'] == 'fp32' and r['executor'] == 'eager' for r in rows)
    assert rows[0]['speedup_vs_first_backend'] == 1
    assert rows[2]['speedup_vs_first_backend'] == 1  # per setting
    saved = json.loads(out.read_text())
    assert saved['results'] == rows and saved['settings']['fuse']
    assert 'vs first' in capsys.readouterr().out


def test_training_step(benchmark):
    rows = benchmark.main(
        ['--arch', 't2', '--mode', 'train', '--batch-size', '2', *FAST])
    assert rows[0]['backend'] == 'auto' and rows[0]['images_per_s'] > 0


def test_autocast_rows(benchmark):
    rows = benchmark.main(
        ['--arch', 't2', '--dtype', 'fp32', 'bf16', '--fuse', *FAST])
    assert [r['dtype'] for r in rows] == ['fp32', 'bf16']


@pytest.mark.parametrize('flags,message', [
    (['--cuda-graph'], 'CUDA'),
    (['--profile'], 'CUDA'),
    (['--mode', 'train', '--fuse'], 'BN'),
])
def test_bad_flag_combinations_are_refused(benchmark, flags, message, capsys):
    with pytest.raises(SystemExit):
        benchmark.main(['--arch', 't2', *flags, *FAST])
    assert message in capsys.readouterr().err


def test_unknown_backend_is_refused(benchmark):
    with pytest.raises(ValueError, match="backend 'nope'"):
        benchmark.main(['--arch', 't2', '--backends', 'nope', *FAST])
