"""A stand-in `fly` executable and pytest fixtures around it (see plugin.py)."""
