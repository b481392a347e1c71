"""The web pages: server-rendered HTML on the same app, at ``/``."""
