"""The application layer shared by every front door (HTTP, pages, CLI): no web framework here."""
