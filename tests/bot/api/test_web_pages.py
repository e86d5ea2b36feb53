"""The widget, the demo page and the console are served by the service itself (the widget's and
the console's ES modules too), and the widget may call the API and load its modules from the
company's own site (CORS) when its origin is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def test_every_page_and_response_says_what_browsers_may_do_with_it(client: TestClient) -> None:
    def headers(path: str) -> dict[str, str]:
        response = client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["x-frame-options"] == "DENY", path
        assert response.headers["referrer-policy"] == "no-referrer", path
        return dict(response.headers)

    # The console: its own files only, never framed, no inline script or style.
    for path in ("/console", "/console/main.js"):
        policy = headers(path)["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self';" in policy, path
        assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy, path
    # The demo page: its own files, with the inline styles it is written with.
    demo = headers("/demo")["content-security-policy"]
    assert "script-src 'self';" in demo and "style-src 'self' 'unsafe-inline'" in demo
    # The widget's files run in the company's page, under its policy; loaded from another
    # site, they say so (CORP), and opened as a page nothing in them runs.
    for path in ("/widget.js", "/widget/app.js", "/shared/dom.js"):
        widget = headers(path)
        assert widget["content-security-policy"].startswith("default-src 'none'"), path
        assert widget["cross-origin-resource-policy"] == "cross-origin", path
    # The API too, refusals included.
    assert "default-src 'none'" in headers("/api/staff/me")["content-security-policy"]


def test_only_the_customer_api_and_the_widget_answer_other_sites(client: TestClient) -> None:
    def preflight(path: str, method: str = "POST") -> Any:
        return client.options(
            path,
            headers={
                "Origin": "https://shop.example.com",
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "content-type,authorization",
            },
        )

    allowed = preflight("/api/conversations")
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "*"
    assert preflight("/api/conversations/c-1/messages").status_code == 200
    # The staff API is the console's, on this service's own origin: no other site may call it.
    for path, method in (
        ("/api/staff/login", "POST"),
        ("/api/staff/queue", "GET"),
        ("/metrics", "GET"),
    ):
        refused = preflight(path, method)
        assert refused.status_code != 200, path
        assert "access-control-allow-origin" not in refused.headers, path
    staff = client.get("/api/staff/me", headers={"Origin": "https://shop.example.com"})
    assert "access-control-allow-origin" not in staff.headers
