"""The browser tests' view of the running service: where it is, the staff passwords, and the
two sides a person uses, the customer's widget and the staff console, as page objects."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from playwright.sync_api import expect

from bot.app import create_app
from bot.runtime import Runtime
from tests.helpers.servers import uvicorn_serving
from tests.proxy import CuttableProxy

REPO = Path(__file__).resolve().parents[2]
# A test run must not rewrite tracked files: screenshots go to the ignored var/ unless the
# README's pictures are being renewed on purpose.
SCREENSHOTS = (
    REPO / "docs" / "screenshots"
    if os.environ.get("CXAGENT_UPDATE_SCREENSHOTS") == "1"
    else REPO / "var" / "screenshots"
)

AGENT_PASSWORD = "correct horse battery"
ADMIN_PASSWORD = "staple battery horse"


@dataclass
class LiveService:
    runtime: Runtime
    port: int
    proxy: CuttableProxy

    @property
    def url(self) -> str:
        """The service as the browser reaches it: through the proxy a test can cut."""
        return f"http://127.0.0.1:{self.proxy.port}"


class Reachable(Protocol):
    """Where the pages are served: a LiveService, or any server a test started."""

    @property
    def url(self) -> str: ...


class Widget:
    """The customer's side: the demo page with the widget, as a customer uses it."""

    def __init__(self, page: Any, service: Reachable) -> None:
        self.page = page
        page.goto(f"{service.url}/demo")
        page.get_by_test_id("cx-launcher").click()
        expect(page.get_by_test_id("cx-panel")).to_be_visible()

    def messages(self, role: str) -> Any:
        return self.page.locator(f'[data-testid="cx-message"][data-role="{role}"]')

    def send(self, text: str) -> None:
        self.page.get_by_test_id("cx-input").fill(text)
        self.page.get_by_test_id("cx-input").press("Enter")

    def says_and_hears(self, text: str) -> str:
        """Send a message; the bot's answer to it."""
        answers = self.messages("bot").count()
        self.send(text)
        expect(self.messages("bot")).to_have_count(answers + 1)
        return str(self.messages("bot").last.inner_text())

    @property
    def conversation_id(self) -> str:
        return str(self.page.evaluate("window.cxagentWidget.state().conversationId"))


class Console:
    """The staff side: the console, logged in."""

    def __init__(self, page: Any, service: Reachable, username: str, password: str) -> None:
        self.page = page
        page.goto(f"{service.url}/console")
        page.get_by_test_id("login-username").fill(username)
        page.get_by_test_id("login-password").fill(password)
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("live-status")).to_contain_text("live")

    def queue_row(self, conversation_id: str) -> Any:
        return self.page.locator(
            f'[data-testid="queue-row"][data-conversation-id="{conversation_id}"]'
        )


def screenshot(page: Any, name: str) -> None:
    """Save a screenshot: to docs/screenshots/ with CXAGENT_UPDATE_SCREENSHOTS=1, else to var/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


@contextmanager
def serving(runtime: Runtime) -> Iterator[LiveService]:
    """Serve a runtime with uvicorn on a free port, behind a proxy a test can cut."""
    with uvicorn_serving(create_app(runtime.settings, runtime)) as port:
        proxy = CuttableProxy(port)
        try:
            yield LiveService(runtime, port, proxy)
        finally:
            proxy.close()


def embed_with(page: Any, **widget: str) -> None:
    """Give the widget's tag on the pages ``page`` opens these ``data-*`` attributes
    (``customer_id="cust-42"`` → ``data-customer-id``), as a company's site does for a customer
    it has signed in. The demo page itself is served by the service: Chromium lets only a page
    that came from a local address open a socket to one."""
    attributes = json.dumps(widget)
    page.add_init_script(
        "new MutationObserver((changes, observer) => {"
        "  for (const change of changes) for (const node of change.addedNodes) {"
        "    if (node.tagName === 'SCRIPT' && /widget\\.js/.test(node.src)) {"
        f"      Object.assign(node.dataset, {attributes}); observer.disconnect();"
        "    }"
        "  }"
        "}).observe(document, { childList: true, subtree: true });"
    )


def axe_violations(page: Any) -> list[str]:
    """What axe-core (the rules engine of browsers' own audits) finds wrong on the page."""
    import axe_playwright_python  # ships axe-core's axe.min.js

    # Evaluated as the browser's tools do, not as a script element: the pages' own
    # Content-Security-Policy refuses inline scripts, and the audit must see them under it.
    axe_source = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
    page.evaluate(axe_source)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['impact']} {violation['id']}: {violation['help']} at "
        f"{[node['target'] for node in violation['nodes']][:3]}"
        for violation in result["violations"]
    ]
