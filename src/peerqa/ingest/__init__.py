"""source -> passages -> index.

Parsers for the bundled paper and user documents, and the Chroma ingest.
"""
