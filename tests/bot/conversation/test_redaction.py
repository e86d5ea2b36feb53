from __future__ import annotations

import pytest

from bot.conversation.redaction import profile_attributes, redact
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # E-mail addresses spelt out so that nothing would recognise them as addresses.
        ("it's john dot doe at gmail dot com", "it's [email]"),
        ("john at gmail dot com", "[email]"),
        ("jo(at)mail(dot)co(dot)uk thanks", "[email] thanks"),
        ("jo.doe [at] mail [dot] com", "[email]"),
        ("I looked at amazon dot com first", "I looked at amazon dot com first"),
        ("jo @ mail.com or jo.doe at mail.co.uk", "[email] or [email]"),
        # Sentences, not addresses (from the demo's own data).
        (
            "Not impressed at all. Half of it is missing.",
            "Not impressed at all. Half of it is missing.",
        ),
        (
            "the address you used at checkout. If you can't",
            "the address you used at checkout. If you can't",
        ),
        # Secrets typed into the chat.
        ("my password is hunter2", "my password is [password]"),
        ("password: S3cret!x", "password: [password]"),
        ("pw = 'p@ss.word'", "pw = [password]"),
        ("my password is Tr0ub4dor", "my password is [password]"),
        ("my password is not working", "my password is not working"),
        ("my password is useless", "my password is useless"),
        ("password: letmein", "password: [password]"),
        ("pin is 1234", "pin is [pin]"),
        ("my PIN number: 987654", "my PIN number: [pin]"),
        # A card number grouped by dots.
        ("card 4111.1111.1111.1111 declined", "card [card] declined"),
        # Phone numbers of every length people write.
        ("ring 07700 900123 after 5", "ring [phone] after 5"),
        ("my number is 5551234", "my number is [phone]"),
        ("call 555-1234 or 2345 6789", "call [phone] or [phone]"),
        # Numbers that are not phone numbers stay, above all the ones the bot looks up.
        ("order BC-204518 and bc 204519", "order BC-204518 and bc 204519"),
        ("my order number is 654321", "my order number is 654321"),
        ("order #112233 is late", "order #112233 is late"),
        ("invoice 1234567 and ref: 7654321", "invoice 1234567 and ref: 7654321"),
        (
            "delivered 20261130, 12-03-2026 or 2026-12-02",
            "delivered 20261130, 12-03-2026 or 2026-12-02",
        ),
        ("it cost 1 250 000 in 2019 2020", "it cost 1 250 000 in 2019 2020"),
        ("I waited 123456 seconds", "I waited 123456 seconds"),
    ],
)
def test_spelt_addresses_secrets_and_short_numbers_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_order_numbers_survive_redaction_for_the_bot_to_look_up() -> None:
    text = "order BC-204518, call me on 555 1234, john at gmail dot com"
    assert extract_slots(redact(text)) == {"order_id": "BC-204518"}


def test_profile_keeps_what_rules_need_and_leaves_out_sensitive_attributes() -> None:
    kept = profile_attributes(
        {
            "tier": "vip",
            "plan": "gold",
            "spend": 1250.5,
            "order_count": 7,
            "churned": False,
            "phone": "07700 900123",
            "mobilePhone": "+44 7700 900123",
            "home_address": "1 High Street",
            "Date of birth": "1990-01-01",
            "dob": "1990-01-01",
            "postcode": "SW1A 1AA",
            "note": "prefers jo at mail dot com",
            "contact": {"preferred": "chat", "phone_number": "555 1234"},
            "notes": ["ring 555 1234"],
        }
    )
    assert kept == {
        "tier": "vip",
        "plan": "gold",
        "spend": 1250.5,
        "order_count": 7,
        "churned": False,
        "note": "prefers [email]",
        "contact": {"preferred": "chat"},
        "notes": ["ring [phone]"],
    }
