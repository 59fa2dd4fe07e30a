"""Training-loop extras reachable from configs (``mmmobilemamba.X``)."""
from .hooks import *  # noqa: F401,F403
from .schedulers import *  # noqa: F401,F403
