"""Training-loop extras reachable from configs (``mmmobilemamba.X``)."""
from .schedulers import *  # noqa: F401,F403
