from .official_checkpoint import (convert_backbone_key,
                                  convert_official_state_dict,
                                  load_official_checkpoint, unwrap_state_dict)
from .state_dict_check import IncompatibleCheckpointError, check_state_dict

__all__ = [
    'IncompatibleCheckpointError', 'check_state_dict', 'convert_backbone_key',
    'convert_official_state_dict', 'load_official_checkpoint',
    'unwrap_state_dict'
]
