"""The JSON API's routes, one module-level router per area; api/http/app.py includes
them all (`ROUTERS`)."""
