"""HTTP: the FastAPI app, chat page and OpenAI-compatible endpoint."""
