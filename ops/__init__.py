"""The runbook engine: every phase of the safe-migration runbook, run through a Target.

Knows nothing of Discord. Usable from the terminal: ``python -m ops``.
"""
