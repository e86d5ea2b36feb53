"""Suggested replies in a real browser: a customer who gave their name asks for a person, the
agent takes the conversation, and when the customer asks where their order is, the console
suggests three knowledge-base answers with the name and the order number filled in. The agent
puts one in the reply box, edits it and sends it; the dashboard counts it as edited and the two
others as ignored."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.web.pages import (
    AGENT_PASSWORD,
    Console,
    LiveService,
    Widget,
    axe_violations,
    screenshot,
)

ANSWER = "Hi Priya, you can follow order BC-204518 under My Account > Orders"


def test_the_agent_replies_from_a_suggestion_and_the_dashboard_counts_it(
    live_service: LiveService, new_page: Any
) -> None:
    customer = Widget(new_page(), live_service)
    customer.says_and_hears("Hello, my name is Priya")
    customer.says_and_hears("I want to talk to a real person please")
    agent = Console(new_page(), live_service, "sam", AGENT_PASSWORD)
    agent.queue_row(customer.conversation_id).click()
    agent.page.get_by_test_id("take").click()
    expect(customer.page.get_by_test_id("cx-panel")).to_contain_text("Sam joined")
    panel = agent.page.get_by_test_id("suggestions")
    expect(panel).to_be_visible()

    # A new customer message: the suggestions follow it, live.
    customer.send("Where is my order BC-204518?")
    suggestion = panel.get_by_test_id("suggestion")
    expect(suggestion.filter(has_text=ANSWER)).to_have_count(1)
    expect(suggestion).to_have_count(3)
    entries = [str(s.get_attribute("data-entry-id")) for s in suggestion.all()]
    assert "track_order.where_is_my_order" in entries
    screenshot(agent.page, "console-suggestions")
    assert axe_violations(agent.page) == [], "the conversation with its suggested replies"

    suggestion.filter(has_text=ANSWER).click()
    reply = agent.page.get_by_test_id("reply-input")
    expect(reply).to_have_value(re.compile(f"^{re.escape(ANSWER)}"))
    expect(reply).to_be_focused()
    reply.press("End")
    reply.press_sequentially(" It left us this morning.")
    agent.page.get_by_test_id("reply-send").click()
    sent = customer.messages("agent").last
    expect(sent).to_contain_text(ANSWER)
    expect(sent).to_contain_text("It left us this morning.")

    agent.page.get_by_test_id("nav-dashboard").click()
    usage = agent.page.get_by_test_id("suggestion-usage")
    edited = usage.locator('[data-entry-id="track_order.where_is_my_order"]')
    expect(edited.get_by_test_id("edited")).to_have_text("1")
    expect(edited.get_by_test_id("used")).to_have_text("0")
    expect(edited.get_by_test_id("ignored")).to_have_text("0")
    expect(usage.get_by_test_id("suggestion-usage-row")).to_have_count(3)
    for other in [entry for entry in entries if entry != "track_order.where_is_my_order"]:
        expect(usage.locator(f'[data-entry-id="{other}"]').get_by_test_id("ignored")).to_have_text(
            "1"
        )
    usage.scroll_into_view_if_needed()
    screenshot(agent.page, "console-suggestion-usage")
    assert axe_violations(agent.page) == [], "the dashboard with the suggested replies by entry"
