from __future__ import annotations

import pytest

from bot.conversation.redaction import redact
from bot.conversation.slots import extract_slots


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jo.doe+shop@mail.co.uk please", "write to [email] please"),
        ("card 4111 1111 1111 1111 was charged", "card [card] was charged"),
        ("my card is 5555-5555-5555-4444", "my card is [card]"),
        ("call me on +44 7700 900123", "call me on [phone]"),
        ("or (020) 7946 0958 after six", "or [phone] after six"),
        ("order BC-123456 arrived", "order BC-123456 arrived"),
        ("text 07700900123 or +447700900123", "text [phone] or [phone]"),
        ("DPD tracking number 15501703246599", "DPD tracking number 15501703246599"),
        ("I paid £45.99 on 12/03/2026", "I paid £45.99 on 12/03/2026"),
    ],
)
def test_personal_data_is_redacted_and_the_rest_kept(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "slots"),
    [
        ("where is BC-123456", {"order_id": "BC-123456"}),
        ("my order number is 654321", {"order_id": "BC-654321"}),
        ("order #112233 is late", {"order_id": "BC-112233"}),
        ("bc 998877 please", {"order_id": "BC-998877"}),
        (
            "my name is Anna and my email is anna@example.org",
            {"customer_name": "Anna", "email": "anna@example.org"},
        ),
        ("I waited 123456 seconds", {}),
    ],
)
def test_slots_are_found_in_what_customers_write(text: str, slots: dict[str, str]) -> None:
    assert extract_slots(text) == slots
