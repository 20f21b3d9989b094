"""The four ends of a phase, in the words every surface uses (CLI, channel, status, history).

The outcome is decided from the database itself (DESIGN rule 7) by the phase; this module only
names it, so the CLI, the cards and the journal cannot drift apart.
"""

from __future__ import annotations

DONE, UNCHANGED, CHANGED, UNKNOWN = "done", "unchanged", "changed", "unknown"
OUTCOMES = (DONE, UNCHANGED, CHANGED, UNKNOWN)
# A migrate or rollback with one of these did change the database (and "unknown" may have).
CHANGED_DATABASE = frozenset({DONE, CHANGED})

_CHANGE = {"migrate": "the migration committed", "rollback": "the backup was restored"}


def headline(phase: str, outcome: str, *, ok: bool | None = None) -> str:
    """One line: what the run did to the database."""
    if outcome == DONE or (not outcome and ok):
        return "done"
    if outcome == CHANGED:
        return f"{_CHANGE.get(phase, 'the database changed')}, but a later step failed"
    if outcome == UNKNOWN:
        return "whether the database changed is NOT known yet"
    return "failed; the database is unchanged"


def icon(outcome: str, *, ok: bool | None = None) -> str:
    if outcome == DONE or (not outcome and ok):
        return "✔"
    return {CHANGED: "⚠", UNKNOWN: "❓"}.get(outcome, "✘")
