"""Accessibility audits with axe-core (the rules engine browsers' own audit tools use) of the
widget, open and mid-conversation, on a desktop and a phone, with its survey showing, and of
every console page: no violation of any impact."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.web.pages import ADMIN_PASSWORD, Console, LiveService, Widget, axe_violations


@pytest.mark.parametrize("width, height", [(1280, 800), (375, 740)])
def test_the_widget_passes_an_accessibility_audit(
    live_service: LiveService, new_page: Any, width: int, height: int
) -> None:
    customer = Widget(new_page(width, height), live_service)
    customer.says_and_hears("How do I reset my password?")
    assert axe_violations(customer.page) == []
    customer.page.get_by_test_id("cx-end").click()
    expect(customer.page.get_by_test_id("cx-survey")).to_be_visible()
    assert axe_violations(customer.page) == []


def test_every_console_page_passes_an_accessibility_audit(
    live_service: LiveService, new_page: Any
) -> None:
    started = httpx.post(f"{live_service.url}/api/conversations", json={}).json()
    auth = {"Authorization": f"Bearer {started['customer_token']}"}
    for text in ("where is my parcel", "I want to talk to a person"):
        httpx.post(
            f"{live_service.url}/api/conversations/{started['conversation_id']}/messages",
            json={"text": text},
            headers=auth,
        )

    page = new_page()
    page.goto(f"{live_service.url}/console")
    expect(page.get_by_test_id("login-username")).to_be_visible()
    assert axe_violations(page) == [], "login"

    admin = Console(page, live_service, "ada", ADMIN_PASSWORD)
    row = admin.queue_row(started["conversation_id"])
    expect(row).to_be_visible()
    assert axe_violations(page) == [], "queue"
    row.click()
    expect(page.get_by_test_id("message").first).to_be_visible()
    assert axe_violations(page) == [], "conversation"
    page.get_by_test_id("nav-dashboard").click()
    expect(page.get_by_test_id("kpi-conversations")).to_be_visible()
    assert axe_violations(page) == [], "dashboard"
    page.get_by_test_id("nav-staff").click()
    expect(page.get_by_test_id("staff-row").first).to_be_visible()
    assert axe_violations(page) == [], "staff"
