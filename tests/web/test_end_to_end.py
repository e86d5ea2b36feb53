"""The whole product in a real browser: a customer chats in the widget on the demo page, asks for
a person, an agent takes over in the console and replies, the customer sees it live, the agent
hands back, the customer answers the survey, and the dashboard counts it. The test run makes the
screenshots the README shows."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect
from sqlalchemy import select

from bot.storage.models import Message, Survey
from tests.web.pages import ADMIN_PASSWORD, AGENT_PASSWORD, Console, LiveService, Widget, screenshot


def test_a_customer_is_helped_by_the_bot_then_a_person_and_rates_it(
    live_service: LiveService, new_page: Any
) -> None:
    customer = Widget(new_page(), live_service)
    answer = customer.says_and_hears("Where is my order BC-204518?")
    assert "order" in answer.lower()
    screenshot(customer.page, "widget")

    # The console is open before the customer asks for a person: the queue fills live.
    agent = Console(new_page(), live_service, "sam", AGENT_PASSWORD)
    customer.says_and_hears("I want to talk to a real person please")
    row = agent.queue_row(customer.conversation_id)
    expect(row).to_be_visible()
    expect(row.get_by_test_id("queue-reason")).to_contain_text("person")
    screenshot(agent.page, "console-queue")

    row.click()
    agent.page.get_by_test_id("take").click()
    expect(customer.page.get_by_test_id("cx-panel")).to_contain_text("Sam joined")
    agent.page.get_by_test_id("reply-input").fill("Hi, I'm Sam. I can see order BC-204518 here.")
    agent.page.get_by_test_id("reply-send").click()
    expect(customer.messages("agent")).to_have_count(1)
    expect(customer.messages("agent").first).to_contain_text("I'm Sam")

    # While Sam has the conversation the customer's messages go to Sam, not the bot.
    bot_answers = customer.messages("bot").count()
    customer.page.get_by_test_id("cx-input").fill("Thanks Sam")
    expect(agent.page.get_by_test_id("customer-typing")).to_be_visible()
    customer.send("Thanks Sam, that helps")
    agent_view = agent.page.locator('[data-testid="message"][data-role="customer"]')
    expect(agent_view.last).to_contain_text("Thanks Sam")
    assert customer.messages("bot").count() == bot_answers
    # The agent corrects what the model read in the customer's thanks.
    thanks = agent_view.last
    thanks.get_by_test_id("correct-intent").click()
    thanks.get_by_test_id("correct-intent-input").fill("goodbye")
    thanks.get_by_test_id("correct-intent-save").click()
    expect(agent_view.last.get_by_test_id("message-intent")).to_contain_text("goodbye")
    screenshot(agent.page, "console-conversation")
    screenshot(customer.page, "widget-with-agent")

    agent.page.get_by_test_id("hand-back").click()
    survey = customer.page.get_by_test_id("cx-survey")
    expect(survey).to_be_visible()
    survey.locator('input[name="csat"][value="5"]').check(force=True)
    survey.locator('input[name="nps"][value="9"]').check(force=True)
    survey.locator('input[name="ces"][value="6"]').check(force=True)
    survey.locator('textarea[name="comment"]').fill("Quick and friendly")
    screenshot(customer.page, "widget-survey")
    customer.page.get_by_test_id("cx-survey-submit").click()
    expect(customer.page.get_by_test_id("cx-survey-thanks")).to_be_visible()

    with live_service.runtime.sessions() as session:
        stored = session.scalar(
            select(Survey).where(Survey.conversation_id == customer.conversation_id)
        )
        assert stored is not None and (stored.csat, stored.nps, stored.ces) == (5, 9, 6)
        readings = session.scalars(
            select(Message).where(
                Message.conversation_id == customer.conversation_id, Message.role == "customer"
            )
        ).all()
    # Every customer message carries the model's reading; the correction is stored beside it.
    assert readings and all(m.intent and m.sentiment for m in readings)
    assert readings[-1].corrected_intent == "goodbye"

    agent.page.get_by_test_id("nav-dashboard").click()
    expect(agent.page.get_by_test_id("kpi-surveys").get_by_test_id("kpi-value")).to_have_text("1")
    expect(agent.page.get_by_test_id("kpi-csat").get_by_test_id("kpi-value")).to_contain_text("100")
    expect(agent.page.get_by_test_id("chart-escalations")).to_contain_text("person")
    screenshot(agent.page, "console-dashboard")


def test_an_admin_manages_staff_accounts_and_an_agent_cannot(
    live_service: LiveService, new_page: Any
) -> None:
    admin = Console(new_page(), live_service, "ada", ADMIN_PASSWORD)
    admin.page.get_by_test_id("nav-staff").click()
    admin.page.get_by_test_id("staff-username").fill("lee")
    admin.page.get_by_test_id("staff-name").fill("Lee Park")
    admin.page.get_by_test_id("staff-password").fill("a long enough secret")
    admin.page.get_by_test_id("staff-create").click()
    expect(admin.page.get_by_test_id("staff-row").filter(has_text="Lee Park")).to_be_visible()
    screenshot(admin.page, "console-staff")
    lee_row = admin.page.get_by_test_id("staff-row").filter(has_text="Lee Park")
    lee_row.get_by_test_id("staff-set-password").click()
    lee_row.get_by_test_id("staff-new-password").fill("an even longer secret")
    lee_row.get_by_test_id("staff-password-save").click()
    expect(lee_row).to_contain_text("Password set")

    lee = Console(new_page(), live_service, "lee", "an even longer secret")
    expect(lee.page.get_by_test_id("nav-queue")).to_be_visible()
    expect(lee.page.get_by_test_id("nav-staff")).to_be_hidden()


def test_the_console_login_refuses_a_wrong_password(
    live_service: LiveService, new_page: Any
) -> None:
    page = new_page()
    page.goto(f"{live_service.url}/console")
    page.get_by_test_id("login-username").fill("sam")
    page.get_by_test_id("login-password").fill("not the password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text(
        "wrong username or password", ignore_case=True
    )
    screenshot(page, "console-login")


def test_a_customer_who_ends_the_chat_leaves_the_live_queue(
    live_service: LiveService, new_page: Any
) -> None:
    agent = Console(new_page(), live_service, "sam", AGENT_PASSWORD)
    customer = Widget(new_page(), live_service)
    customer.says_and_hears("Can I speak to a real person?")
    row = agent.queue_row(customer.conversation_id)
    expect(row).to_be_visible()

    customer.page.get_by_test_id("cx-end").click()
    expect(row).to_have_count(0)
    expect(customer.page.get_by_test_id("cx-survey")).to_have_count(1)
    expect(customer.page.get_by_test_id("cx-panel")).to_contain_text("This conversation has ended")


def test_staff_find_the_bots_own_conversations_and_correct_them(
    live_service: LiveService, new_page: Any
) -> None:
    started = httpx.post(f"{live_service.url}/api/conversations", json={}).json()
    conversation_id = started["conversation_id"]
    sent = httpx.post(
        f"{live_service.url}/api/conversations/{conversation_id}/messages",
        json={"text": "my parcel never showed up"},
        headers={"Authorization": f"Bearer {started['customer_token']}"},
    ).json()["message"]

    agent = Console(new_page(), live_service, "sam", AGENT_PASSWORD)
    expect(agent.queue_row(conversation_id)).to_have_count(0)  # nobody waits on it
    agent.page.get_by_role("button", name="All conversations").click()
    agent.queue_row(conversation_id).click()
    message = agent.page.locator(f'[data-testid="message"][data-id="{sent["id"]}"]')
    message.get_by_test_id("correct-intent").click()
    message.get_by_test_id("correct-intent-input").fill("missing_item")
    message.get_by_test_id("correct-intent-save").click()
    expect(
        agent.page.locator(f'[data-testid="message"][data-id="{sent["id"]}"]').get_by_test_id(
            "message-intent"
        )
    ).to_contain_text("missing_item")
    with live_service.runtime.sessions() as session:
        stored = session.get(Message, sent["id"])
        assert stored is not None and stored.corrected_intent == "missing_item"


def test_staff_see_what_the_model_read_each_question_and_each_correction(
    live_service: LiveService, new_page: Any
) -> None:
    started = httpx.post(f"{live_service.url}/api/conversations", json={}).json()
    sent = httpx.post(
        f"{live_service.url}/api/conversations/{started['conversation_id']}/messages",
        json={"text": "how long does delivry take, and can I pay with PayPal?"},
        headers={"Authorization": f"Bearer {started['customer_token']}"},
    ).json()
    assert "About “can I pay with PayPal?”" in sent["reply"]["text"]

    agent = Console(new_page(), live_service, "sam", AGENT_PASSWORD)
    agent.page.get_by_role("button", name="All conversations").click()
    agent.queue_row(started["conversation_id"]).click()
    message = agent.page.locator(f'[data-testid="message"][data-id="{sent["message"]["id"]}"]')
    questions = message.get_by_test_id("read-as-question")
    expect(questions).to_have_count(2)
    expect(questions.first).to_contain_text("how long does delivery take")
    expect(questions.first.get_by_test_id("read-as-corrections")).to_contain_text(
        "delivry → delivery"
    )
    expect(questions.last).to_contain_text("can I pay with PayPal?")
    expect(questions.last).to_contain_text("payment_methods")
