"""`make soak`: the service under load end to end (soak/run.py)."""
