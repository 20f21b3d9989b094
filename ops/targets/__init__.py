"""How to reach the app host: ``local`` (this machine) and ``fly`` (flyctl)."""

from ops.targets.base import Machine, ShResult, Target

__all__ = ["Machine", "ShResult", "Target"]
