"""source -> passages -> index: parsers for the bundled paper and user documents, and the Chroma ingest."""
