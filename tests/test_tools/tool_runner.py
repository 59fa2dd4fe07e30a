"""Running the repository's tools as subprocesses in tests."""
import os
import os.path as osp
import socket
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: A hook module saving each rank's parameters at the end of training.
RANK_HOOK = '''
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class SaveRankParamsHook(Hook):

    def after_train(self, runner):
        model = getattr(runner.model, 'module', runner.model)
        torch.save(dict(model.named_parameters()),
                   f'{runner.work_dir}/rank{runner.rank}_params.pth')
'''

# A guard against hangs, not a time limit: a busy machine runs the tools
# several times slower than an idle one.
TIMEOUT = float(os.environ.get('MMMOBILEMAMBA_TOOL_TIMEOUT', 1800))


def run(args, extra_path=None, **env):
    """Run ``args`` from the repository root; return its output."""
    paths = [REPO, extra_path, os.environ.get('PYTHONPATH')]
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(p for p in paths if p),
        PYTHON=sys.executable,
        # A process that aborts prints where each thread was.
        PYTHONFAULTHANDLER='1',
        **env)
    result = subprocess.run(
        args,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    return output


def tool(name, *args, **kwargs):
    """Run ``tools/<name>`` with ``args``."""
    return run([sys.executable, osp.join('tools', name), *args], **kwargs)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])
