"""Actions in a real browser: a signed-in customer of the demo shop asks the widget where their
order is and reads its status from the shop's own API; then they ask for a person, and the agent
who takes the conversation sees the call the bot made beside the question, and looks the order up
again for themselves, which the customer does not see."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from bot.config import DEMO_DIR, Settings
from bot.demo_shop.server import start_demo_shop
from bot.runtime import build_runtime
from bot.support.accounts import Role
from tests.helpers.identity import identity_token
from tests.web.pages import (
    AGENT_PASSWORD,
    Console,
    LiveService,
    Widget,
    axe_violations,
    embed_with,
    screenshot,
    serving,
)

TOKEN = "shop-token-for-browser-tests"
SECRET = "identity-secret-for-browser-tests-0123456789"


@pytest.fixture(scope="module")
def shop_service(
    served_encoder: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveService]:
    """The demo model, knowledge base and actions, the demo shop's API over HTTP, and an
    identity secret, so the shop's site can say who its signed-in customer is."""
    folder = tmp_path_factory.mktemp("live-actions")
    shop = start_demo_shop(
        "127.0.0.1", 0, DEMO_DIR / "shop" / "orders.yaml", folder / "shop.db", TOKEN
    )
    settings = Settings(
        database_url=f"sqlite:///{folder}/cxagent.db",
        index_dir=folder / "index",
        company_api_url=shop.url,
        company_api_token=TOKEN,
        identity_secret=SECRET,
    )
    runtime = build_runtime(settings, encoder=served_encoder)
    runtime.staff.create_account("sam", AGENT_PASSWORD, Role.AGENT, "Sam")
    try:
        with serving(runtime) as service:
            yield service
    finally:
        runtime.close()
        shop.stop()


def test_the_customer_reads_their_orders_status_and_the_agent_sees_the_call(
    shop_service: LiveService, new_page: Any
) -> None:
    page = new_page()
    embed_with(page, identityToken=identity_token("cust-42", secret=SECRET, name="Priya"))
    customer = Widget(page, shop_service)
    answer = customer.says_and_hears("Where is my order BC-204518?")
    assert "on its way with DPD" in answer
    customer.says_and_hears("I want to talk to a real person please")

    agent = Console(new_page(), shop_service, "sam", AGENT_PASSWORD)
    agent.queue_row(customer.conversation_id).click()
    agent.page.get_by_test_id("take").click()
    expect(customer.page.get_by_test_id("cx-panel")).to_contain_text("Sam joined")

    # The bot's call, right under the question that caused it, its outcome in words.
    question = agent.page.locator('[data-testid="message"][data-role="customer"]').first
    expect(question).to_contain_text("BC-204518")
    call = agent.page.locator('[data-testid="action-call"][data-action="order_status"]')
    expect(call).to_have_count(1)
    expect(call).to_have_attribute("data-outcome", "found")
    expect(call.get_by_test_id("action-call-outcome")).to_have_text("found")
    expect(call).to_contain_text("Bot action")
    assert call.get_attribute("data-message-id") == question.get_attribute("data-id")

    # The agent looks the order up again; the answer is theirs, the customer sees nothing.
    bot_answers = customer.messages("bot").count()
    panel = agent.page.get_by_test_id("lookup-panel")
    expect(panel).to_be_visible()
    panel.get_by_test_id("lookup-action").select_option("order_status")
    panel.get_by_label("Order id").fill("BC-999")
    panel.get_by_test_id("lookup-run").click()
    expect(panel).to_contain_text("it looks like BC-204518")
    panel.get_by_label("Order id").fill("BC-204518")
    panel.get_by_test_id("lookup-run").click()
    expect(panel.get_by_test_id("lookup-outcome")).to_have_text("found")
    expect(panel.get_by_test_id("lookup-text")).to_contain_text("on its way with DPD")
    data = panel.get_by_test_id("lookup-data")
    expect(data).to_contain_text('"in_transit"', use_inner_text=False)
    looked_up = agent.page.locator('[data-testid="action-call"]')
    expect(looked_up).to_have_count(2)
    expect(looked_up.last).to_contain_text("Looked up by Sam")
    assert customer.messages("bot").count() == bot_answers
    screenshot(agent.page, "console-actions")
    assert axe_violations(agent.page) == [], "the conversation with its actions"
