"""Identity tokens as a company's site makes them (docs/web.md), for tests."""

from __future__ import annotations

import time
from typing import Any

import jwt

# HS256 wants a key of at least 32 bytes (PyJWT warns below that, and settings refuse it).
TEST_IDENTITY_SECRET = "identity-secret-for-tests-0123456789"


def identity_token(
    external_id: str,
    *,
    secret: str = TEST_IDENTITY_SECRET,
    expires_in: float = 600,
    algorithm: str = "HS256",
    **claims: Any,
) -> str:
    """A token for ``external_id`` with ``claims`` (name, email, attributes); ``expires_in``
    seconds from now, negative for one that has expired."""
    now = int(time.time())
    payload = {"sub": external_id, "iat": now, "exp": now + int(expires_in), **claims}
    return jwt.encode(payload, secret, algorithm=algorithm)


def start_body(customer: dict[str, Any], secret: str = TEST_IDENTITY_SECRET) -> dict[str, Any]:
    """The body that starts a conversation for ``customer`` ({external_id, name, email,
    attributes}): signed when it has an external id, as the site of a signed-in customer sends
    it; else the anonymous visitor's name and e-mail."""
    if customer.get("external_id") is None:
        return {"customer": {key: value for key, value in customer.items() if value is not None}}
    claims = {key: value for key, value in customer.items() if key != "external_id"}
    return {"identity_token": identity_token(customer["external_id"], secret=secret, **claims)}
