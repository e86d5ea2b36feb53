"""The widget and who the customer is, in a real browser: given the site's signed identity token
it is greeted by the customer's name; given only a customer id it is an anonymous visitor, and
learns nothing of that customer. The keyword-reading fake model keeps the service light."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from bot.runtime import build_runtime
from bot.storage.models import Customer
from tests.fakes import FakeReader
from tests.helpers.identity import TEST_IDENTITY_SECRET, identity_token
from tests.helpers.service import MINI_KB, make_settings
from tests.web.pages import LiveService, Widget, embed_with, serving


@pytest.fixture(scope="module")
def signing_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """The small knowledge base, the identity secret, and the shop's customer cust-42, Priya."""
    folder = tmp_path_factory.mktemp("live-identity")
    kb = folder / "kb.yaml"
    kb.write_text(yaml.safe_dump(MINI_KB, sort_keys=False), encoding="utf-8")
    settings = make_settings(f"sqlite:///{folder}/cxagent.db", folder, kb)
    assert settings.identity_secret is not None
    runtime = build_runtime(settings, encoder=FakeReader())
    with runtime.sessions.begin() as session:
        session.add(Customer(external_id="cust-42", name="Priya", email="priya@example.com"))
    try:
        with serving(runtime) as service:
            yield service
    finally:
        runtime.close()


def test_a_signed_customer_is_greeted_by_name_and_an_id_alone_is_not(
    signing_shop: LiveService, new_page: Any
) -> None:
    signed = new_page()
    token = identity_token("cust-42", secret=TEST_IDENTITY_SECRET, name="Priya")
    embed_with(signed, identityToken=token)
    answer = Widget(signed, signing_shop).says_and_hears("where is my order BC-123456?")
    assert "Hi Priya, order BC-123456 is on its way." in answer

    claimed = new_page()
    embed_with(claimed, customerId="cust-42")
    answer = Widget(claimed, signing_shop).says_and_hears("where is my order BC-123456?")
    assert "Priya" not in answer
    assert "Your order is on its way; see My Account > Orders." in answer
