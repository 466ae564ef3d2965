"""index -> ranked passages: hybrid dense + BM25 retrieval with API.md filters."""
