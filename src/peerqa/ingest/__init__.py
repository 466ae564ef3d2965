"""source -> passages.

Parsers for the bundled paper and user documents; the next step, passages -> index (the
Chroma writer), is peerqa.index.
"""
