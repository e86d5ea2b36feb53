"""Facts a customer states in a message that answers can reuse: order number, e-mail, name."""

from __future__ import annotations

import re

from bot.services.redaction import EMAIL

# Brightcart order numbers look like BC-123456; customers also write "order 123456" or "#123456".
ORDER_ID = re.compile(
    r"\bBC[\s-]?(\d{6})\b"
    r"|(?:\border(?:\s+(?:number|no\.?|num|id))?(?:\s+is)?|#)\s*:?\s*#?(\d{6})\b",
    re.IGNORECASE,
)
NAME = re.compile(
    r"\b(?:my name is|my name's|i am called|call me)\s+"
    r"([A-Z][a-z'-]{1,30}(?:\s[A-Z][a-z'-]{1,30})?)"
)


def extract_slots(text: str) -> dict[str, str]:
    """Slot values found in ``text`` (raw, before redaction); absent slots are left out."""
    found: dict[str, str] = {}
    if order := ORDER_ID.search(text):
        found["order_id"] = f"BC-{order.group(1) or order.group(2)}"
    if email := EMAIL.search(text):
        found["email"] = email.group()
    if name := NAME.search(text):
        found["customer_name"] = name.group(1)
    return found
