"""Personal data taken out of text before it is stored: e-mail addresses, card and phone numbers."""

from __future__ import annotations

import re

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# 13 to 19 digits, optionally grouped by spaces or dashes: the shape of a payment card number.
CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
# An optional +, then 9 to 15 digits with the usual separators: phone numbers, national or not.
PHONE = re.compile(r"(?<![\w-])\+?\(?\d(?:[\s().-]{0,2}\d){8,14}(?![\w-])")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[card]" if _luhn_valid(digits) else match.group()


def _phone(match: re.Match[str]) -> str:
    # Twelve digits or more in one unbroken run, without a +, are a courier's tracking number or
    # a reference, not a phone number as people write one (national numbers have at most 11).
    number = match.group()
    return number if re.fullmatch(r"\d{12,}", number) else "[phone]"


def redact(text: str) -> str:
    """``text`` with e-mail addresses, card numbers (Luhn-checked) and phone numbers replaced by
    ``[email]``, ``[card]`` and ``[phone]``."""
    text = EMAIL.sub("[email]", text)
    text = CARD.sub(_card, text)
    return PHONE.sub(_phone, text)
