"""The HTTP front door: the FastAPI app, its routes and the web pages."""
