"""Helpers shared by the fault-injection suite (tests/test_faults_*.py)."""
