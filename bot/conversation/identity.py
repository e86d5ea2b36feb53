"""Who the customer is, as the company's site says: optionally signed, so that nobody can
open conversations as another customer and write to their profile."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from bot.errors import Forbidden


@dataclass(frozen=True)
class CustomerIdentity:
    """Who the company's site says the customer is; all optional (anonymous visitors)."""

    external_id: str | None = None
    name: str | None = None
    email: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    # HMAC-SHA256 of external_id with the company's identity secret, computed by its server.
    signature: str | None = None


def sign_customer_id(external_id: str, secret: str) -> str:
    """What the company's server sends beside a customer id when identity checks are on."""
    return hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()


def check_signature(identity: CustomerIdentity, secret: str | None) -> None:
    """With an identity secret, a customer id counts only with its signature; Forbidden if it
    is missing or wrong."""
    if secret is None or identity.external_id is None:
        return
    expected = sign_customer_id(identity.external_id, secret)
    if identity.signature is None or not hmac.compare_digest(identity.signature, expected):
        raise Forbidden(
            "the customer id needs its signature: HMAC-SHA256 of the id with the identity "
            "secret, in hex, computed on the company's server"
        )
