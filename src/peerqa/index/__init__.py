"""passages -> index: the step between ingest (source -> passages) and retrieval. It
writes a new Chroma generation (peerqa.store) with the files retrieval derives from it."""
