"""The widget, the demo page and the console are served by the service itself (the widget's and
the console's ES modules too), and the widget may call the API and load its modules from the
company's own site (CORS) when its origin is allowed."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.runtime import build_runtime
from tests.fakes import FakeEncoder
from tests.helpers.service import make_settings


def test_the_pages_are_served(client: TestClient) -> None:
    widget = client.get("/widget.js")
    assert widget.status_code == 200
    assert widget.headers["content-type"].startswith("text/javascript")
    assert "cxagentWidget" in widget.text
    demo = client.get("/demo")
    assert demo.status_code == 200 and '<script src="/widget.js"' in demo.text
    console = client.get("/console")
    assert console.status_code == 200
    assert '<script type="module" src="/console/main.js">' in console.text
    for module in ("/console/main.js", "/widget/app.js", "/shared/dom.js"):
        served = client.get(module)
        assert served.status_code == 200, module
        assert served.headers["content-type"].startswith("text/javascript"), module
        assert served.headers["cache-control"] == "no-cache", module
    assert client.get("/console/console.css").headers["content-type"].startswith("text/css")
    for missing in (
        "/console/missing.js",
        "/console/.hidden",
        "/widget/.hidden",
        "/shared/..%2Fwidget.js",
        "/widget/..%2F..%2Fapi%2Froutes%2Fweb.py",
        "/widget/%2E%2E%5Cwidget.js",
    ):
        assert client.get(missing).status_code == 404, missing
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
            # The loader imports the widget's modules, which browsers fetch in CORS mode.
            module = client.get("/widget/app.js", headers={"Origin": "https://shop.example.com"})
            assert module.headers["access-control-allow-origin"] == "https://shop.example.com"
    finally:
        runtime.close()
