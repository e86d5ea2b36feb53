"""Who the customer is, over HTTP: only a valid identity token from the site reaches a known
customer's profile; anything else is an anonymous visitor with a fresh profile. Attributes keep
to their limits, and 422s never echo the request."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.config import DEMO_DIR, Settings, SettingsError, load_settings, warn_about_identity
from bot.runtime import Runtime, build_runtime
from bot.storage.models import Conversation, Customer
from tests.fakes import FakeReader
from tests.helpers.identity import TEST_IDENTITY_SECRET, identity_token
from tests.helpers.service import make_settings

PRIYA: dict[str, Any] = {
    "name": "Priya",
    "email": "priya@example.com",
    "attributes": {"tier": "vip"},
}


def serve(database_url: str, tmp_path: Path, kb: Path, secret: str | None) -> Iterator[Runtime]:
    runtime = build_runtime(
        make_settings(database_url, tmp_path, kb, identity_secret=secret), encoder=FakeReader()
    )
    with runtime.sessions.begin() as session:
        session.add(Customer(external_id="cust-42", **PRIYA))
    yield runtime
    runtime.close()


@pytest.fixture
def unsigned(database_url: str, tmp_path: Path, mini_kb_path: Path) -> Iterator[Runtime]:
    """The service without an identity secret; the site's customer cust-42, Priya (vip), known."""
    yield from serve(database_url, tmp_path, mini_kb_path, None)


@pytest.fixture
def signed(sqlite_url: str, tmp_path: Path, mini_kb_path: Path) -> Iterator[Runtime]:
    """The service with the test identity secret; cust-42, Priya (vip), known."""
    yield from serve(sqlite_url, tmp_path, mini_kb_path, TEST_IDENTITY_SECRET)


def client_of(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime.settings, runtime))


def start(client: TestClient, body: dict[str, Any]) -> dict[str, str]:
    response = client.post("/api/conversations", json=body)
    assert response.status_code == 201, response.text
    started: dict[str, str] = response.json()
    return started


def says(client: TestClient, started: dict[str, str], text: str) -> dict[str, Any]:
    response = client.post(
        f"/api/conversations/{started['conversation_id']}/messages",
        json={"text": text},
        headers={"Authorization": f"Bearer {started['customer_token']}"},
    )
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()["reply"]
    return reply


def priya(runtime: Runtime) -> Customer:
    with runtime.sessions() as session:
        return session.scalars(select(Customer).where(Customer.external_id == "cust-42")).one()


def customers(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(Customer)) or 0


# ------------------------------------------------------------------ without a secret


def test_a_customer_id_alone_reveals_and_changes_nothing_of_that_customers_profile(
    unsigned: Runtime,
) -> None:
    with client_of(unsigned) as client:
        started = start(
            client,
            {
                "customer": {
                    "external_id": "cust-42",
                    "email": "mallory@example.com",
                    "attributes": {"tier": "gold", "note": "mallory was here"},
                }
            },
        )
        greeting = says(client, started, "where is my order BC-123456?")
        reset = says(client, started, "I forgot my password")
    assert "Priya" not in greeting["text"]
    assert greeting["text"] == "Your order is on its way; see My Account > Orders."
    assert "priya@example.com" not in reset["text"]
    assert reset["text"] == "We sent a reset link to mallory@example.com."  # their own, given
    known = priya(unsigned)
    assert (known.name, known.email, known.attributes) == (
        "Priya",
        "priya@example.com",
        {"tier": "vip"},
    )
    assert known.conversation_count == 0
    with unsigned.sessions() as session:
        visitor = session.get(Conversation, started["conversation_id"]).customer  # type: ignore[union-attr]
        # A fresh anonymous profile: no id and no attributes from the visitor's word.
        assert visitor.id != known.id and visitor.external_id is None
        assert visitor.email == "mallory@example.com" and not visitor.attributes


def test_unsigned_attributes_do_not_jump_the_queue(unsigned: Runtime) -> None:
    with client_of(unsigned) as client:
        started = start(client, {"customer": {"attributes": {"tier": "vip"}}})
        reply = says(client, started, "I'm angry, my order is late")
    # A customer with no tier: one negative message fires no rule (see test_handoff).
    assert reply["decision"] == "intent"


def test_an_anonymous_visitor_is_greeted_by_the_name_they_gave(unsigned: Runtime) -> None:
    with client_of(unsigned) as client:
        started = start(client, {"customer": {"name": "Sam"}})
        assert says(client, started, "where is my order BC-123456?")["text"].startswith("Hi Sam,")


def test_a_token_to_a_service_without_a_secret_is_refused(unsigned: Runtime) -> None:
    with client_of(unsigned) as client:
        response = client.post(
            "/api/conversations", json={"identity_token": identity_token("cust-42", **PRIYA)}
        )
    assert response.status_code == 401
    assert "CXAGENT_IDENTITY_SECRET" in response.json()["detail"]


# ------------------------------------------------------------------ with a secret


def test_a_signed_customer_is_known_and_their_attributes_reach_the_escalation_rules(
    signed: Runtime,
) -> None:
    with client_of(signed) as client:
        token = identity_token(
            "cust-42", name="Priya", email="priya@new.example.com", attributes={"tier": "vip"}
        )
        started = start(client, {"identity_token": token})
        assert says(client, started, "where is my order BC-123456?")["text"] == (
            "Hi Priya, order BC-123456 is on its way."
        )
        assert says(client, started, "I forgot my password")["text"] == (
            "We sent a reset link to priya@new.example.com."
        )
        # vip and unhappy: the demo rule sends the conversation to the vip queue.
        assert says(client, started, "I'm angry, my order is late")["decision"] == "handoff"
    known = priya(signed)
    assert known.email == "priya@new.example.com" and known.conversation_count == 1
    with signed.sessions() as session:
        conversation = session.get(Conversation, started["conversation_id"])
        assert conversation is not None and conversation.customer_id == known.id
        assert (conversation.queue, conversation.high_value) == ("vip", True)
    assert customers(signed) == 1


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "cust-42"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize(
    ("token", "says_why"),
    [
        (identity_token("cust-42", secret="another-site-s-secret-0123456789abcdef"), "signature"),
        (_tampered(identity_token("cust-7", name="Mallory")), "signature"),
        (identity_token("cust-42", expires_in=-120), "expired"),
        (jwt.encode({"sub": "cust-42"}, TEST_IDENTITY_SECRET, algorithm="HS256"), "'exp'"),
        (identity_token("cust-42", algorithm="HS512", secret=TEST_IDENTITY_SECRET * 2), "HS256"),
        (jwt.encode({"sub": "cust-42", "exp": 2**31}, "", algorithm="none"), "HS256"),
        (identity_token("cust-42", expires_in=30 * 24 * 3600), "hours"),
        ("not.a.jwt", "well-formed"),
    ],
    ids=["forged", "tampered", "expired", "no-exp", "hs512", "alg-none", "long-lived", "junk"],
)
def test_a_token_that_is_not_valid_is_refused_and_stores_nothing(
    signed: Runtime, token: str, says_why: str
) -> None:
    with client_of(signed) as client:
        response = client.post("/api/conversations", json={"identity_token": token})
    assert response.status_code == 401, response.text
    assert says_why in response.json()["detail"]
    assert customers(signed) == 1 and priya(signed).conversation_count == 0


def test_a_token_goes_alone(signed: Runtime) -> None:
    with client_of(signed) as client:
        response = client.post(
            "/api/conversations",
            json={"identity_token": identity_token("cust-42"), "customer": {"name": "Mallory"}},
        )
    assert response.status_code == 422
    assert "inside the token" in response.json()["detail"][0]["msg"]


# ------------------------------------------------------------------ limits, and no echo

SECRET_MARK = "do-not-echo-me"


@pytest.mark.parametrize(
    ("attributes", "limit"),
    [
        ({f"k{i}": SECRET_MARK * 25 for i in range(12)}, "4096 are allowed"),
        ({"note": SECRET_MARK * 50}, "500 characters"),
        ({f"k{i}": SECRET_MARK for i in range(51)}, "at most 50"),
        ({SECRET_MARK * 10: 1}, "64 characters"),
        ({"tags": [SECRET_MARK] * 51}, "50 items"),
        ({"a": {"b": {"c": {"d": SECRET_MARK}}}}, "3 objects or lists deep"),
    ],
    ids=["size", "text", "keys", "name", "list", "depth"],
)
def test_attributes_over_their_limits_are_refused_without_echo(
    signed: Runtime, attributes: dict[str, Any], limit: str
) -> None:
    with client_of(signed) as client:
        unsigned_body = client.post(
            "/api/conversations", json={"customer": {"attributes": attributes}}
        )
        token = identity_token("cust-42", attributes=attributes)
        in_token = client.post("/api/conversations", json={"identity_token": token})
    for response in (unsigned_body, in_token):
        assert response.status_code == 422, response.text
        assert limit in response.text
        assert SECRET_MARK not in response.text and '"input"' not in response.text
    assert priya(signed).attributes == {"tier": "vip"}


def test_attributes_within_the_limits_are_kept(signed: Runtime) -> None:
    attributes = {"tier": "gold", "plan": {"name": "pro", "seats": [1, 2]}, "note": "x" * 500}
    with client_of(signed) as client:
        start(client, {"identity_token": identity_token("cust-42", attributes=attributes)})
    assert priya(signed).attributes == attributes


def test_three_hundred_levels_of_nesting_are_a_422_not_a_500(signed: Runtime) -> None:
    deep = '{"customer": {"attributes": {"a": ' + '{"a": ' * 300 + "1" + "}" * 302 + "}"
    with client_of(signed) as client:
        response = client.post(
            "/api/conversations", content=deep, headers={"content-type": "application/json"}
        )
    assert response.status_code == 422
    assert "3 objects or lists deep" in response.text and '"input"' not in response.text


def test_validation_errors_anywhere_keep_their_shape_without_the_input(
    client: TestClient,
) -> None:
    response = client.post("/api/conversations", json={"channel": SECRET_MARK * 10})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "string_too_long",
                "loc": ["body", "channel"],
                "msg": "String should have at most 32 characters",
                "ctx": {"max_length": 32},
            }
        ]
    }
    login = client.post("/api/staff/login", json={"username": "sam", SECRET_MARK * 20: "x"})
    assert login.status_code == 422 and SECRET_MARK * 5 not in login.text
    assert '"input"' not in login.text


def test_openapi_shows_the_limits(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    start_in = schemas["StartConversationIn"]["properties"]
    assert start_in["identity_token"]["anyOf"][0]["maxLength"] == 8192
    customer = schemas["CustomerIn"]["properties"]
    assert customer["attributes"]["maxProperties"] == 50
    assert "4096 bytes" in customer["attributes"]["description"]
    assert customer["external_id"]["deprecated"] is True


# ------------------------------------------------------------------ settings


def test_a_short_identity_secret_is_refused_and_never_shown() -> None:
    with pytest.raises(SettingsError, match="CXAGENT_IDENTITY_SECRET: .*at least 32") as error:
        load_settings({"CXAGENT_IDENTITY_SECRET": "hunter2-hunter2"})
    assert "hunter2" not in str(error.value)
    assert load_settings({"CXAGENT_IDENTITY_SECRET": ""}).identity_secret is None


def test_without_a_secret_start_up_warns_outside_the_demo_only(
    caplog: pytest.LogCaptureFixture, mini_kb_path: Path
) -> None:
    with caplog.at_level(logging.INFO, logger="bot.config"):
        warn_about_identity(Settings())  # the README's `cxagent serve`: the demo company
        warn_about_identity(Settings(knowledge_base=mini_kb_path, identity_secret="s" * 32))
        assert [r.levelno for r in caplog.records] == [logging.INFO]
        warn_about_identity(Settings(knowledge_base=mini_kb_path))
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "CXAGENT_IDENTITY_SECRET is not set" in warning.getMessage()
    assert (
        Settings().serves_demo
        and Settings(knowledge_base=DEMO_DIR / "knowledge_base.yaml").serves_demo
    )
