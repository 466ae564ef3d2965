"""User papers measured: `python -m peerqa.eval.papers` (the runner, __main__.py), its
questions (questions.jsonl) and the error analyses beside it (coverage, describe, focus,
route, parse_stats); README.md says what each measures."""
