"""Personal data taken out of text before it is stored: e-mail addresses (written or spelt out),
passwords and PINs, card numbers and phone numbers; and the profile attributes that are kept."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# An address spelt out so that a form would not take it: "john dot doe at gmail dot com",
# "jo(at)mail(dot)co(dot)uk", "jo @ mail.com". The domain needs at least one dot; a written "."
# counts only inside a word, for one that ends a sentence ("… used at checkout. If …") is none.
_AT = r"\s*(?:@|\(at\)|\[at\]|\bat\b)\s*"
_DOT = r"(?:\.|\s*(?:\(dot\)|\[dot\]|\bdot\b)\s*)"
SPELT_EMAIL = re.compile(
    rf"(?<![\w.+'-])(?P<local>[\w+-]+(?:{_DOT}[\w+-]+)*){_AT}[\w-]+(?:{_DOT}[a-z]{{2,}}\b)+",
    re.IGNORECASE,
)
# "look at amazon dot com" names a site, not an address: words that come before "at" in
# ordinary sentences are no local part.
# fmt: off
_NOT_A_LOCAL_PART = frozenset((
    "look", "looking", "looked", "see", "seen", "check", "checked", "it", "its", "this", "that",
    "them", "me", "us", "you", "here", "there", "is", "was", "am", "are", "be", "been", "shop",
    "shopping", "shopped", "bought", "ordered", "order", "buy", "paid", "pay", "home", "work",
    "online", "site", "website", "page", "arrived", "stuck", "available", "listed",
))
# fmt: on
# A secret someone types: "my password is hunter2", "password: x", "pw = x"; the value goes.
PASSWORD = re.compile(
    r"\b(?P<lead>(?:password|passcode|passphrase|passwd|pwd|pw)\s*(?P<sep>is|was|:|=|-)\s*)"
    r"(?P<value>[\"']?[^\s\"']+[\"']?)",
    re.IGNORECASE,
)
# Words that say something about a password rather than give it: "my password is not working".
# fmt: off
_NOT_A_PASSWORD = frozenset((
    "not", "wrong", "incorrect", "invalid", "too", "still", "being", "expired", "reset", "locked",
    "correct", "right", "the", "a", "an", "my", "your", "it", "that", "this", "no", "now",
    "working", "broken", "forgotten", "forgot", "changed", "lost", "missing", "blocked", "weak",
    "short", "long", "same", "different", "rejected", "required", "needed", "definitely",
))
# fmt: on
PIN = re.compile(
    r"\b(?P<lead>pin(?:\s+(?:number|code))?\s*(?:is|was|:|=|-)?\s*)(?P<value>\d{4,8})\b",
    re.IGNORECASE,
)
# 13 to 19 digits, optionally grouped by spaces, dashes or dots: the shape of a payment card.
CARD = re.compile(r"(?<![\w.-])\d(?:[ .-]?\d){12,18}(?![\w-]|\.\d)")
# An optional +, then 9 to 15 digits with the usual separators: phone numbers, national or not.
PHONE = re.compile(r"(?<![\w-])\+?\(?\d(?:[\s().-]{0,2}\d){8,14}(?![\w-])")
# A local number without its area code, 7 or 8 digits: "555 1234", "2345-6789", "5551234".
SHORT_PHONE = re.compile(r"(?<![\w£$€#.,/-])\d(?:[ -]?\d){6,7}(?![\w/-]|[.,]\d)")
# Numbers that look like a short phone number but are not one when these come just before.
_NUMBER_NAMED = re.compile(
    r"(?:order|invoice|ref|reference|tracking|parcel|item|sku|#)\s*(?:number|no\.?|id)?\s*"
    r"(?:is|:)?\s*$",
    re.IGNORECASE,
)

# Profile attributes that are never stored: kept out, not redacted, since rules need none of them.
# A key is sensitive when any of these appears in it, compared without case or punctuation
# ("Date of birth", "date_of_birth", "mobilePhone").
SENSITIVE_ATTRIBUTE_WORDS = (
    "phone",
    "mobile",
    "address",
    "street",
    "postcode",
    "postalcode",
    "zip",
    "birth",
    "dob",
    "passport",
    "nationalid",
    "ssn",
    "iban",
    "card",
    "password",
)


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _spelt_email(match: re.Match[str]) -> str:
    if match.group("local").lower() in _NOT_A_LOCAL_PART:
        return match.group()
    return "[email]"


def _password(match: re.Match[str]) -> str:
    raw = match.group("value")
    value = raw.strip("\"'.,!?;")
    if not value or value.lower() in _NOT_A_PASSWORD:
        return match.group()
    # After "is", a plain word says how the password is ("my password is useless"); a password
    # given that way has digits, symbols, capitals inside or quotes. After ":" or "=" it is one.
    looks_secret = raw[0] in "\"'" or not value.isalpha() or not value[1:].islower()
    if match.group("sep").lower() in {"is", "was"} and not looks_secret:
        return match.group()
    return match.group("lead") + "[password]"


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[card]" if _luhn_valid(digits) else match.group()


def _phone(match: re.Match[str]) -> str:
    # Twelve digits or more in one unbroken run, without a +, are a courier's tracking number or
    # a reference, not a phone number as people write one (national numbers have at most 11).
    number = match.group()
    return number if re.fullmatch(r"\d{12,}", number) else "[phone]"


def _short_phone(match: re.Match[str]) -> str:
    number = match.group()
    before = match.string[max(0, match.start() - 40) : match.start()]
    if _NUMBER_NAMED.search(before) or _is_date(number):
        return number
    # Thousands grouped by spaces ("1 250 000") are an amount.
    if re.fullmatch(r"\d{1,3}(?: \d{3})+", number):
        return number
    # Two years: "2019 2020", "2019-2020".
    if re.fullmatch(r"(?:19|20)\d\d[ -](?:19|20)\d\d", number):
        return number
    return "[phone]"


def _is_date(number: str) -> bool:
    """A date written without slashes: 12-03-2026, 2026-03-12 or 20260312."""
    if re.fullmatch(r"\d{1,2}-\d{1,2}-\d{4}|\d{4}-\d{1,2}-\d{1,2}", number):
        return True
    if re.fullmatch(r"(?:19|20)\d{6}", number):
        try:
            date(int(number[:4]), int(number[4:6]), int(number[6:]))
        except ValueError:
            return False
        return True
    return False


def redact(text: str) -> str:
    """``text`` with passwords and PINs, e-mail addresses (spelt out too), card numbers
    (Luhn-checked) and phone numbers (7 digits and more) replaced by ``[password]``, ``[pin]``,
    ``[email]``, ``[card]`` and ``[phone]``. Order numbers (BC-204518, six digits), tracking
    numbers and dates are kept."""
    # Secrets first: a password may look like an address or a number.
    text = PASSWORD.sub(_password, text)
    text = PIN.sub(lambda match: match.group("lead") + "[pin]", text)
    text = EMAIL.sub("[email]", text)
    text = SPELT_EMAIL.sub(_spelt_email, text)
    text = CARD.sub(_card, text)
    text = PHONE.sub(_phone, text)
    return SHORT_PHONE.sub(_short_phone, text)


def is_sensitive_attribute(key: str) -> bool:
    """True for a profile attribute that is not kept: phone, address, date of birth, …"""
    folded = re.sub(r"[^a-z]", "", key.lower())
    return any(word in folded for word in SENSITIVE_ATTRIBUTE_WORDS)


def profile_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes the site sends, as they are kept: the sensitive ones left out at any depth,
    text values of the others redacted (a note may quote a number); numbers, flags and tiers as
    they are."""
    return {
        key: _kept_value(value)
        for key, value in attributes.items()
        if not is_sensitive_attribute(key)
    }


def _kept_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return profile_attributes(value)
    if isinstance(value, list):
        return [_kept_value(item) for item in value]
    return value
