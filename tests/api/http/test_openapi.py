"""/openapi.json documents every read: each GET operation has a 200 response with a
schema (a model for JSON bodies, a string for notes, files and documents), and the
pages stay out of it."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from api.http.app import create_app
from ledger.config import LedgerConfig


def _schema(tmp_path: Any) -> tuple[Any, dict[str, Any]]:
    app = create_app(LedgerConfig(home=tmp_path / "home"))
    return app, app.openapi()


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: Any = document
    for part in ref.removeprefix("#/").split("/"):
        found = found[part]
    assert isinstance(found, dict)
    return found


def _is_documented(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    schema = _resolve(document, schema)
    if schema.get("type") == "array":
        return _is_documented(document, schema.get("items", {}))
    if schema.get("type") == "object":
        return bool(schema.get("properties"))  # a model, not a free-form object
    return schema.get("type") == "string"


def test_every_get_operation_documents_its_response(tmp_path: Any) -> None:
    _, document = _schema(tmp_path)
    gets = [(path, ops["get"]) for path, ops in document["paths"].items() if "get" in ops]
    assert len(gets) >= 20
    for path, operation in gets:
        ok = operation["responses"].get("200")
        assert ok is not None, path
        content = ok.get("content")
        assert content, f"{path}: no body is documented"
        for media_type, body in content.items():
            schema = body.get("schema")
            assert schema, f"{path} {media_type}: no schema"
            assert _is_documented(document, schema), f"{path} {media_type}: {schema}"
            if media_type == "application/json":
                assert schema.get("$ref") or schema.get("type") == "array", path


def test_every_json_route_is_in_the_document_and_no_page_is(tmp_path: Any) -> None:
    app, document = _schema(tmp_path)
    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    for route in routes:
        documented = route.path in document["paths"]
        assert documented is route.include_in_schema, route.path
        is_api = route.path.startswith("/v1/") or route.path == "/healthz"
        assert documented is is_api, route.path
