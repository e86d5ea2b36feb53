"""What browsers are told about each response: security headers on every one, and CORS only
where another site's page has reason to call (the customer API and the widget's files).

- The console: its own files only (scripts, styles, connections), and never inside a frame.
- The demo page: its own files, with the inline styles it is written with.
- The widget's loader and modules (and the modules it shares with the console) run inside the
  company's page, under that page's policy, which must allow this service (docs/operating.md);
  their own policy matters only if one is opened as a document, where nothing may run. They are
  fetched cross-origin, so they carry CORS and ``Cross-Origin-Resource-Policy: cross-origin``.
- The API: JSON, which no page should run or frame.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONSOLE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DEMO_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Scripts, JSON, plain text: nothing in them may run or be framed when opened as a page.
NOTHING_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

EVERY_RESPONSE = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

# Files the company's page loads from this service, and the API the widget calls from it.
CROSS_ORIGIN_PREFIXES = ("/api/conversations", "/widget.js", "/widget/", "/shared/")
WIDGET_FILES = ("/widget.js", "/widget/", "/shared/")
# The interactive API documentation loads its scripts from a CDN: it keeps no policy of ours.
DOCS_PATHS = ("/docs", "/redoc")


def policy_for(path: str) -> str | None:
    """The Content-Security-Policy of a path; None for the API documentation."""
    if path == "/console" or path.startswith("/console/"):
        return CONSOLE_POLICY
    if path == "/demo":
        return DEMO_POLICY
    if path.startswith(DOCS_PATHS):
        return None
    return NOTHING_POLICY


def _matches(path: str, prefixes: Iterable[str]) -> bool:
    return any(path == prefix.rstrip("/") or path.startswith(prefix) for prefix in prefixes)


class SecurityHeaders:
    """Adds the security headers to every HTTP response, keeping any a route set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in EVERY_RESPONSE.items():
                    headers.setdefault(name, value)
                policy = policy_for(path)
                if policy is not None:
                    headers.setdefault("Content-Security-Policy", policy)
                if _matches(path, WIDGET_FILES):
                    headers.setdefault("Cross-Origin-Resource-Policy", "cross-origin")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CrossOriginOnly:
    """CORS for the customer API and the widget's files, for the sites allowed to embed the
    widget; nothing for the rest (the staff API, the console, /metrics), which only pages of
    this service call."""

    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "PUT", "PATCH"],
            allow_headers=["Authorization", "Content-Type"],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _matches(scope["path"], CROSS_ORIGIN_PREFIXES):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
