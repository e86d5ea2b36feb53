"""The widget, the demo page and the console are served by the service itself, and the widget
may call the API from the company's own site (CORS) when its origin is allowed."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.runtime import build_runtime
from tests.conftest import make_settings
from tests.fakes import FakeEncoder


def test_the_pages_are_served(client: TestClient) -> None:
    widget = client.get("/widget.js")
    assert widget.status_code == 200
    assert widget.headers["content-type"].startswith("text/javascript")
    assert "cxagentWidget" in widget.text
    demo = client.get("/demo")
    assert demo.status_code == 200 and '<script src="/widget.js"' in demo.text
    console = client.get("/console")
    assert console.status_code == 200 and "/console/console.js" in console.text
    assert client.get("/console/console.js").status_code == 200
    assert client.get("/console/missing.js").status_code == 404
    assert client.get("/console/.hidden").status_code == 404
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 307 and home.headers["location"] == "/demo"


def test_only_the_allowed_sites_may_call_the_api_from_a_browser(
    tmp_path: Path, sqlite_url: str, mini_kb_path: Path
) -> None:
    settings = make_settings(
        sqlite_url, tmp_path, mini_kb_path, widget_origins="https://shop.example.com"
    )
    runtime = build_runtime(settings, encoder=FakeEncoder())
    try:
        with TestClient(create_app(settings, runtime)) as client:

            def preflight(origin: str) -> dict[str, str]:
                return dict(
                    client.options(
                        "/api/conversations",
                        headers={
                            "Origin": origin,
                            "Access-Control-Request-Method": "POST",
                            "Access-Control-Request-Headers": "content-type,authorization",
                        },
                    ).headers
                )

            allowed = preflight("https://shop.example.com")
            assert allowed["access-control-allow-origin"] == "https://shop.example.com"
            assert "authorization" in allowed["access-control-allow-headers"].lower()
            assert "access-control-allow-origin" not in preflight("https://evil.example.net")
    finally:
        runtime.close()
