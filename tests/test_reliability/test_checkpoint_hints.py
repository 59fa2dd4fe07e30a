"""A checkpoint the backbone refuses gets a hint that says what the file
is: another network's state dict, a training checkpoint that nests its
(EMA) weights, or MobileMamba weights under a prefix; not "BN-fused"."""
import os.path as osp
import sys

import pytest
import torch
from mmengine.runner import load_checkpoint
from mmpretrain.models import ResNet

from mmmobilemamba.models import MobileMamba
from mmmobilemamba.models.utils import IncompatibleCheckpointError

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(__file__)), 'test_models'))
from tiny_arch import TINY  # noqa: E402


def refusal(load) -> str:
    with pytest.raises(IncompatibleCheckpointError) as info:
        load()
    return str(info.value)


def test_another_network_is_named_as_such():
    resnet = ResNet(depth=18).state_dict()
    message = refusal(lambda: MobileMamba(TINY).load_state_dict(resnet))
    assert 'BN-fused' not in message
    assert 'is not a MobileMamba checkpoint' in message
    assert "'conv1.weight'" in message


@pytest.mark.parametrize('wrapper',
                         ['model_ema', 'state_dict_ema', 'ema_state_dict'])
def test_ema_only_training_checkpoint_is_named_as_such(wrapper, tmp_path):
    path = tmp_path / 'ema_only.pth'
    torch.save({wrapper: MobileMamba(TINY).state_dict()}, path)
    message = refusal(lambda: load_checkpoint(MobileMamba(TINY), str(path)))
    assert 'BN-fused' not in message
    assert f"EMA weights nested under ['{wrapper}']" in message
    assert f"torch.load(FILE, weights_only=True)['{wrapper}']" in message


@pytest.mark.parametrize('prefix', ['backbone.', 'module.backbone.', 'ema.'])
def test_prefixed_keys_get_the_prefix_to_load_with(prefix):
    state = {prefix + k: v for k, v in MobileMamba(TINY).state_dict().items()}
    message = refusal(lambda: MobileMamba(TINY).load_state_dict(state))
    assert f"keys carry the prefix '{prefix}'" in message
    assert f"prefix='{prefix}')" in message
    assert ('(EMA weights)' in message) == (prefix == 'ema.')


def test_another_arch_is_named_by_its_arch():
    """A T2 state dict loaded into B1 names the file's arch, not a generic
    'check the arch'."""
    t2 = MobileMamba('t2').state_dict()
    message = refusal(lambda: MobileMamba('b1').load_state_dict(t2))
    assert 'holds a MobileMamba-T2 backbone' in message
    assert "arch='t2'" in message
