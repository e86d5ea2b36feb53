"""The OpenAPI description's shared declarations (bot/api/openapi.py); the fuzz test
(test_api_fuzz.py) holds the service to them."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from bot.app import create_app
from tests.helpers.service import make_settings

ERROR = "#/components/schemas/ErrorOut"
INVALID = "#/components/schemas/ValidationErrorOut"


def test_every_error_is_declared_with_the_bodies_the_service_sends(
    sqlite_url: str, tmp_path: Path, mini_kb_path: Path
) -> None:
    settings = make_settings(sqlite_url, tmp_path, mini_kb_path, max_message_chars=500)
    schema = create_app(settings).openapi()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if code[0] not in "45":
                    continue
                body = response["content"]["application/json"]["schema"]["$ref"]
                assert body == (INVALID if code == "422" else ERROR), (method, path, code)
                if code in ("429", "503"):
                    assert "Retry-After" in response["headers"], (method, path, code)
    transcript = schema["paths"]["/api/conversations/{conversation_id}/messages"]["get"]
    assert "422" not in transcript["responses"]  # a string id and a token: nothing to refuse
    text = schema["components"]["schemas"]["MessageIn"]["properties"]["text"]
    assert text["maxLength"] == 500


def test_a_405_names_every_method_of_the_path(
    sqlite_url: str, tmp_path: Path, mini_kb_path: Path
) -> None:
    # FastAPI keeps one route per method: Starlette named only the first route's methods.
    app = create_app(make_settings(sqlite_url, tmp_path, mini_kb_path))
    with TestClient(app) as client:
        refused = client.delete("/api/conversations/abc/messages")
        assert refused.status_code == 405
        assert refused.headers["Allow"] == "GET, HEAD, POST"
        assert client.put("/api/staff/accounts").headers["Allow"] == "GET, HEAD, POST"
