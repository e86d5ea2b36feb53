"""What the profile keeps of the attributes the site signs: what the rules and answers need, not
the customer's phone number, address or date of birth."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
from sqlalchemy import select

from bot.conversation.identity import CustomerIdentity
from bot.runtime import build_runtime
from bot.storage.models import Customer
from tests.fakes import FakeEncoder
from tests.helpers.service import make_settings

SECRET = "privacy-tests-identity-secret-0123456789"


def signed(external_id: str, **claims: object) -> CustomerIdentity:
    now = int(time.time())
    payload = {"sub": external_id, "iat": now, "exp": now + 600, **claims}
    return CustomerIdentity(token=jwt.encode(payload, SECRET, algorithm="HS256"))


def test_sensitive_attributes_are_not_stored_in_the_profile(
    database_url: str, tmp_path: Path, mini_kb_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, mini_kb_path, identity_secret=SECRET)
    runtime = build_runtime(settings, encoder=FakeEncoder())
    try:
        attributes = {
            "tier": "vip",
            "plan": "gold",
            "spend": 420.0,
            "phone": "07700 900123",
            "address": {"street": "1 High Street", "city": "Leeds"},
            "date_of_birth": "1990-01-01",
            "note": "call 555 1234 before noon",
        }
        runtime.chat.start_conversation(signed("cust-9", name="Ada", attributes=attributes))
        with runtime.sessions() as session:
            customer = session.scalars(
                select(Customer).where(Customer.external_id == "cust-9")
            ).one()
            assert customer.attributes == {
                "tier": "vip",
                "plan": "gold",
                "spend": 420.0,
                "note": "call [phone] before noon",
            }
    finally:
        runtime.close()
