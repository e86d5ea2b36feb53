"""The widget keeps the conversation through a page reload and loses nothing when the network
drops: not a message sent while offline, not one whose acknowledgement never arrived; and none
is stored or shown twice. Also: one script tag embeds it on another site, themed by its
attributes, on a phone-sized screen."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bot.storage.models import Message
from tests.web.pages import LiveService, Widget, screenshot

# Long enough for the widget's reconnect back-off after a cut.
RECONNECT_TIMEOUT_MS = 30_000


def stored(service: LiveService, conversation_id: str, role: str, text: str | None = None) -> int:
    with service.runtime.sessions() as session:
        query = select(Message).where(
            Message.conversation_id == conversation_id, Message.role == role
        )
        if text is not None:
            query = query.where(Message.text == text)
        return len(session.scalars(query).all())


def wait_until(condition: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(0.1)


def shown_ids(widget: Widget) -> list[str]:
    return [
        str(element.get_attribute("data-id"))
        for element in widget.page.locator('[data-testid="cx-message"]').all()
    ]


@pytest.fixture
def service(live_service: LiveService) -> Iterator[LiveService]:
    yield live_service
    live_service.proxy.restore()  # whatever a test did to the network


def test_a_reload_keeps_the_conversation(service: LiveService, new_page: Any) -> None:
    customer = Widget(new_page(), service)
    customer.says_and_hears("What is your return policy?")
    before, conversation_id = shown_ids(customer), customer.conversation_id

    customer.page.reload()
    customer.page.get_by_test_id("cx-launcher").click()
    expect(customer.messages("bot")).to_have_count(1)
    assert shown_ids(customer) == before
    assert customer.conversation_id == conversation_id
    customer.says_and_hears("And how do I reset my password?")
    assert stored(service, conversation_id, "customer") == 2


def test_a_message_sent_while_the_connection_is_cut_arrives_once(
    service: LiveService, new_page: Any
) -> None:
    customer = Widget(new_page(), service)
    customer.says_and_hears("Hello")
    conversation_id = customer.conversation_id

    service.proxy.cut()
    expect(customer.page.get_by_test_id("cx-connection")).to_be_visible(
        timeout=RECONNECT_TIMEOUT_MS
    )
    text = "Do you ship to France?"
    customer.send(text)
    pending = customer.messages("customer").filter(has_text=text)
    expect(pending).to_have_attribute("data-state", "pending")
    screenshot(customer.page, "widget-reconnecting")
    assert stored(service, conversation_id, "customer", text) == 0

    service.proxy.restore()
    expect(pending).to_have_attribute("data-state", "sent", timeout=RECONNECT_TIMEOUT_MS)
    expect(customer.messages("bot")).to_have_count(2)
    expect(customer.page.get_by_test_id("cx-connection")).to_be_hidden()
    assert stored(service, conversation_id, "customer", text) == 1
    expect(customer.messages("customer").filter(has_text=text)).to_have_count(1)


def test_a_message_whose_acknowledgement_was_lost_is_stored_and_shown_once(
    service: LiveService, new_page: Any
) -> None:
    customer = Widget(new_page(), service)
    customer.says_and_hears("Hi there")
    conversation_id = customer.conversation_id

    # The message reaches the service, which stores and answers it, but nothing comes back.
    service.proxy.mute_replies()
    text = "How long does delivery take?"
    customer.send(text)
    wait_until(lambda: stored(service, conversation_id, "customer", text) == 1)
    assert stored(service, conversation_id, "bot") == 2
    expect(customer.messages("customer").filter(has_text=text)).to_have_attribute(
        "data-state", "pending"
    )

    service.proxy.cut()
    service.proxy.restore()
    sent = customer.messages("customer").filter(has_text=text)
    expect(sent).to_have_attribute("data-state", "sent", timeout=RECONNECT_TIMEOUT_MS)
    expect(customer.messages("bot")).to_have_count(2)
    expect(sent).to_have_count(1)
    ids = shown_ids(customer)
    assert len(ids) == len(set(ids)) == 4
    assert stored(service, conversation_id, "customer", text) == 1
    assert stored(service, conversation_id, "bot") == 2


@pytest.fixture
def other_site(service: LiveService, tmp_path: Path) -> Iterator[str]:
    """A shop on another origin whose page embeds the widget with one themed script tag."""
    (tmp_path / "index.html").write_text(
        "<!doctype html><html><head><meta name='viewport' content='width=device-width'>"
        "<title>Other shop</title></head><body><h1>Another shop</h1>"
        f'<script src="{service.url}/widget.js" data-title="Acme support" '
        'data-greeting="Hello from Acme!" data-color="#b45309" data-position="left" '
        "async></script></body></html>",
        encoding="utf-8",
    )
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_address[1]}/index.html"
    server.shutdown()  # stops serve_forever; the listening socket stays open until:
    server.server_close()


def test_one_script_tag_embeds_the_themed_widget_on_another_site_and_a_phone(
    service: LiveService, other_site: str, new_page: Any
) -> None:
    page = new_page(width=375, height=740)
    page.goto(other_site)
    launcher = page.get_by_test_id("cx-launcher")
    expect(launcher).to_have_attribute("aria-label", "Open chat")
    launcher_box = launcher.bounding_box()
    assert launcher_box is not None and launcher_box["x"] < 375 / 2  # data-position="left"

    launcher.focus()
    page.keyboard.press("Enter")
    panel = page.get_by_test_id("cx-panel")
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("role", "dialog")
    expect(panel).to_have_attribute("aria-label", "Acme support")
    expect(panel).to_contain_text("Hello from Acme!")
    box = panel.bounding_box()
    assert box is not None and box["width"] >= 370  # the whole width of a phone

    page.get_by_test_id("cx-input").press_sequentially("Can I return an item?")
    page.keyboard.press("Enter")
    expect(page.locator('[data-testid="cx-message"][data-role="bot"]')).to_have_count(1)
    screenshot(page, "widget-phone")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(launcher).to_be_focused()


def test_messages_queued_in_two_tabs_while_offline_are_all_delivered_once(
    service: LiveService, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    try:
        first = Widget(context.new_page(), service)
        first.says_and_hears("Hello")
        second = Widget(context.new_page(), service)  # the same conversation, from storage
        conversation_id = first.conversation_id
        assert second.conversation_id == conversation_id

        service.proxy.cut()
        for widget in (first, second):
            expect(widget.page.get_by_test_id("cx-connection")).to_be_visible(
                timeout=RECONNECT_TIMEOUT_MS
            )
        first.send("Message from the first tab")
        second.send("Message from the second tab")
        first.page.close()  # gone before it could send
        service.proxy.restore()

        second.page.reload()
        second.page.get_by_test_id("cx-launcher").click()
        for text in ("Message from the first tab", "Message from the second tab"):
            sent = second.messages("customer").filter(has_text=text)
            expect(sent).to_have_attribute("data-state", "sent", timeout=RECONNECT_TIMEOUT_MS)
            expect(sent).to_have_count(1)
        wait_until(
            lambda: all(
                stored(service, conversation_id, "customer", text) == 1
                for text in ("Message from the first tab", "Message from the second tab")
            )
        )
    finally:
        context.close()
