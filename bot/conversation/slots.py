"""Facts a customer states in a message that answers can reuse: order number, e-mail, name."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.conversation.redaction import EMAIL

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


# Words that carry no request of their own around a stated detail ("my order number is …").
# fmt: off
_FILLER = frozenset((
    "a", "an", "and", "the", "it", "its", "it's", "is", "was", "my", "our", "me", "i", "i'm", "im",
    "here", "this", "that's", "that", "number", "no", "num", "id", "order", "ref", "reference",
    "e", "mail", "email", "address", "e-mail", "name", "called", "call", "hi", "hello", "hey",
    "ok", "okay", "yes", "sure", "thanks", "thank", "you", "please", "sorry", "oh", "so", "just",
    "for", "of", "as", "at", "by", "on", "to",
))
# fmt: on


def is_slot_only(text: str, found: Mapping[str, str]) -> bool:
    """True when ``text`` gives slot values and nothing else, such as "my order number is
    BC-204518": a detail for the question before it, not a question of its own."""
    if not found:
        return False
    rest = ORDER_ID.sub(" ", EMAIL.sub(" ", NAME.sub(" ", text)))
    words = re.findall(r"[a-z'-]+", rest.lower())
    return all(word in _FILLER for word in words)
