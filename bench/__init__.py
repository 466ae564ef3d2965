"""`make bench`: ingest, latency, throughput and scale figures for peerqa, side by side
with llama-index's default retriever. Run with `python -m bench` (see bench/run.py)."""
