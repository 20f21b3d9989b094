"""How to reach the app host: one module per target (``local``: this machine, ``fly``: flyctl,
``ssh``: OpenSSH, experimental), listed in ops.targets.registry."""

from ops.targets.base import Machine, ShResult, Target

__all__ = ["Machine", "ShResult", "Target"]
