"""HTTP routes by area; each handler is a thin layer over the library (see service.app)."""
