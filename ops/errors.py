"""Expected failures carry a message for the operator and a hint saying what to do next."""

from __future__ import annotations


class OpsError(Exception):
    """A failure the operator can act on. ``str()`` is the message; ``hint`` says what next."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        # Set by a phase when it fails: what the failure means for the database (ops.outcome).
        self.outcome = ""

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict[str, str]:
        return {"message": self.message, "hint": self.hint, **({"outcome": self.outcome} if self.outcome else {})}


class UsageError(OpsError):
    """Bad arguments or configuration: the CLI exits 2 for these."""
