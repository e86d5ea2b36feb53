"""Who the customer is: anonymous, unless the company's site signed who they are.

The site's server puts its signed-in customer's id, name, e-mail and attributes in a
short-lived JWT (HS256, keyed with the identity secret) and gives it to the widget; the service
believes only what a valid token says. Without a token the visitor is anonymous: they may give
a name and an e-mail address for their own, fresh profile, and nothing else (a customer id or
attributes sent unsigned are ignored), so nobody reads or changes another customer's profile and
nobody makes themselves a VIP.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import jwt
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from bot.errors import Rejected, Unauthenticated

ALGORITHM = "HS256"
# Seconds of clock difference between the site's server and this one that `exp`, `iat` and
# `nbf` forgive.
LEEWAY_SECONDS = 30
# A token is a bearer credential in the page: one that outlives a day is a standing key to the
# customer's profile if it leaks.
MAX_LIFETIME_SECONDS = 24 * 60 * 60

# Attributes are profile facts the escalation rules and answers read; they are kept small and
# flat so that they fit a queue row and the staff view.
ATTRIBUTES_MAX_BYTES = 4096  # of compact JSON, UTF-8
ATTRIBUTES_MAX_DEPTH = 3  # {"a": {"b": {"c": 1}}} is three deep
ATTRIBUTES_MAX_KEYS = 50  # in each object
ATTRIBUTE_KEY_MAX_CHARS = 64
ATTRIBUTE_TEXT_MAX_CHARS = 500
ATTRIBUTE_LIST_MAX_ITEMS = 50

EXTERNAL_ID_MAX_CHARS = 128
NAME_MAX_CHARS = 200
EMAIL_MAX_CHARS = 320


def check_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """``attributes`` as they are, or ValueError naming the limit passed (never the value, which
    may be large or personal)."""
    _check_value(attributes, 1)
    size = len(json.dumps(attributes, separators=(",", ":"), ensure_ascii=False).encode())
    if size > ATTRIBUTES_MAX_BYTES:
        raise ValueError(
            f"attributes take {size} bytes of JSON; at most {ATTRIBUTES_MAX_BYTES} are allowed"
        )
    return attributes


def _check_value(value: object, depth: int) -> None:
    # Returns at the first problem, so a deep or wide value costs no more than the limits allow.
    if isinstance(value, dict | list) and depth > ATTRIBUTES_MAX_DEPTH:
        raise ValueError(f"attributes nest at most {ATTRIBUTES_MAX_DEPTH} objects or lists deep")
    if isinstance(value, dict):
        if len(value) > ATTRIBUTES_MAX_KEYS:
            raise ValueError(f"an attributes object has at most {ATTRIBUTES_MAX_KEYS} keys")
        if any(len(key) > ATTRIBUTE_KEY_MAX_CHARS for key in value):
            raise ValueError(f"attribute names have at most {ATTRIBUTE_KEY_MAX_CHARS} characters")
        items = list(value.values())
    elif isinstance(value, list):
        if len(value) > ATTRIBUTE_LIST_MAX_ITEMS:
            raise ValueError(f"an attribute list has at most {ATTRIBUTE_LIST_MAX_ITEMS} items")
        items = value
    else:
        if isinstance(value, str) and len(value) > ATTRIBUTE_TEXT_MAX_CHARS:
            raise ValueError(f"attribute texts have at most {ATTRIBUTE_TEXT_MAX_CHARS} characters")
        return
    for item in items:
        _check_value(item, depth + 1)


ATTRIBUTE_LIMITS = (
    f"at most {ATTRIBUTES_MAX_BYTES} bytes of JSON, {ATTRIBUTES_MAX_DEPTH} levels deep, "
    f"{ATTRIBUTES_MAX_KEYS} keys an object, names of {ATTRIBUTE_KEY_MAX_CHARS} and texts of "
    f"{ATTRIBUTE_TEXT_MAX_CHARS} characters, lists of {ATTRIBUTE_LIST_MAX_ITEMS} items"
)

Attributes = Annotated[
    dict[str, Any],
    Field(
        max_length=ATTRIBUTES_MAX_KEYS,
        description=f"Profile facts (tier, plan, spend, …): {ATTRIBUTE_LIMITS}",
    ),
    AfterValidator(check_attributes),
]
"""Customer attributes with their limits, for the API's schemas and the token's claims alike."""


class IdentityClaims(BaseModel):
    """The claims of an identity token besides the registered ones (exp, iat, nbf, …)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sub: str = Field(min_length=1, max_length=EXTERNAL_ID_MAX_CHARS)
    name: str | None = Field(None, max_length=NAME_MAX_CHARS)
    email: str | None = Field(None, max_length=EMAIL_MAX_CHARS)
    attributes: Attributes = Field(default_factory=dict)


@dataclass(frozen=True)
class CustomerIdentity:
    """Who a conversation's request says the customer is: the site's signed identity token, or,
    without one, what the visitor says of themselves (anonymous)."""

    token: str | None = None
    # The visitor's own word, for their own fresh profile; only without a token.
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Identified:
    """Who the service takes the customer to be: the site's customer (``external_id`` set) only
    from a valid token; otherwise an anonymous visitor with the name and e-mail they gave."""

    external_id: str | None = None
    name: str | None = None
    email: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def signed(self) -> bool:
        return self.external_id is not None


def identify(identity: CustomerIdentity, secret: str | None) -> Identified:
    """The customer as a valid token says, or an anonymous visitor when there is no token.

    Unauthenticated for a token that is not valid (forged, tampered with, expired, signed with
    another key or algorithm, or sent to a service without a secret); Rejected for a valid one
    whose claims break the limits."""
    if identity.token is None:
        return Identified(name=identity.name or None, email=identity.email or None)
    claims = verify_identity_token(identity.token, secret)
    return Identified(claims.sub, claims.name, claims.email, claims.attributes)


# Why a token is refused, by PyJWT's error (the first that matches, so subclasses come first).
REFUSALS: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.ExpiredSignatureError, "the identity token has expired; the site must make a new one"),
    (
        jwt.InvalidSignatureError,
        "the identity token's signature is wrong: it was not signed with this service's "
        "identity secret, or it was changed after signing",
    ),
    (jwt.InvalidAlgorithmError, f"the identity token must be signed with {ALGORITHM}"),
    (jwt.ImmatureSignatureError, "the identity token is not valid yet (its iat or nbf is ahead)"),
    (jwt.DecodeError, "the identity token is not a well-formed JWT"),
)


def verify_identity_token(token: str, secret: str | None) -> IdentityClaims:
    if secret is None:
        raise Unauthenticated(
            "this service has no identity secret (CXAGENT_IDENTITY_SECRET), so it cannot check "
            "identity tokens; start the conversation without one"
        )
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub"]},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.InvalidTokenError as error:
        raise Unauthenticated(_refusal(error)) from None
    lifetime = payload["exp"] - datetime.now(UTC).timestamp()
    if lifetime > MAX_LIFETIME_SECONDS + LEEWAY_SECONDS:
        raise Unauthenticated(
            f"the identity token is valid for {lifetime / 3600:.0f} hours; make tokens that "
            f"expire within {MAX_LIFETIME_SECONDS // 3600} hours (minutes are usual)"
        )
    try:
        return IdentityClaims.model_validate(payload)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise Rejected(f"the identity token's claims are not allowed: {problems}") from None


def _refusal(error: jwt.InvalidTokenError) -> str:
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"the identity token has no {error.claim!r} claim"
    for kind, message in REFUSALS:
        if isinstance(error, kind):
            return message
    return f"the identity token is not valid: {error}"
