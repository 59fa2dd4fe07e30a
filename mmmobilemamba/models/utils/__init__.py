from .official_checkpoint import (convert_backbone_key,
                                  convert_official_state_dict,
                                  load_official_checkpoint, unwrap_state_dict)
from .state_dict_check import (IncompatibleCheckpointError, check_state_dict,
                               restore_on_error, validate_state_dict_entries)
from .teacher_checkpoint import (OFFICIAL_TEACHER, convert_teacher_state_dict,
                                 load_teacher_checkpoint)

__all__ = [
    'IncompatibleCheckpointError', 'OFFICIAL_TEACHER', 'check_state_dict',
    'convert_backbone_key', 'convert_official_state_dict',
    'convert_teacher_state_dict', 'load_official_checkpoint',
    'load_teacher_checkpoint', 'restore_on_error', 'unwrap_state_dict',
    'validate_state_dict_entries'
]
