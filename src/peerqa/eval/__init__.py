"""Curated question set with gold evidence, and the scripts that score retrieval and answers."""
