"""Signed customer ids: with an identity secret, nobody can claim another customer's id."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.conversation.identity import sign_customer_id
from bot.runtime import build_runtime
from bot.storage.models import Customer
from tests.fakes import FakeEncoder
from tests.helpers.service import make_settings


def test_a_customer_id_needs_its_signature_when_a_secret_is_set(
    sqlite_url: str, tmp_path: Path, mini_kb_path: Path
) -> None:
    settings = make_settings(
        sqlite_url, tmp_path, mini_kb_path, identity_secret="s3cret-from-the-site"
    )
    runtime = build_runtime(settings, encoder=FakeEncoder())
    try:
        with TestClient(create_app(settings, runtime)) as client:
            signed = sign_customer_id("cust-42", "s3cret-from-the-site")
            ok = client.post(
                "/api/conversations",
                json={"customer": {"external_id": "cust-42", "name": "Ada", "signature": signed}},
            )
            assert ok.status_code == 201
            for customer in (
                {"external_id": "cust-42", "name": "Mallory"},  # no signature
                {"external_id": "cust-42", "name": "Mallory", "signature": "0" * 64},
                {"external_id": "cust-43", "name": "Mallory", "signature": signed},
            ):
                refused = client.post("/api/conversations", json={"customer": customer})
                assert refused.status_code == 403
                assert "signature" in refused.json()["detail"]
            # Anonymous visitors need no signature.
            assert client.post("/api/conversations", json={}).status_code == 201
        with runtime.sessions() as session:
            names = session.scalars(select(Customer.name).where(Customer.external_id.is_not(None)))
            assert list(names) == ["Ada"]
    finally:
        runtime.close()
