"""Actions in the console, against the demo shop's own API over real HTTP: a conversation shows
every call the bot made for it, and the agent who holds a conversation can run the same read
actions for its customer, with the customer id the chat would use, and nobody else's."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.actions.runner import ActionResult, ActionRunner
from bot.actions.spec import ActionSpec
from bot.app import create_app
from bot.config import Settings
from bot.demo_shop.server import DemoShop
from bot.runtime import Runtime, build_runtime
from bot.storage.models import ActionCall, StaffAction
from bot.support.accounts import Role
from tests.fakes import FakeReader
from tests.helpers.actions import IDENTITY_SECRET, SHOP_TOKEN, Chat, running_demo_shop
from tests.helpers.service import STAFF_PASSWORD, log_in

STATUS = (
    "Order BC-204518 is on its way with DPD (tracking number 15501703246599) and should arrive "
    "by 1 December 2026."
)


class CountingRunner:
    """The real runner, counting the calls that reach it."""

    def __init__(self, runner: ActionRunner) -> None:
        self.runner = runner
        self.calls: list[str] = []

    def run(
        self,
        spec: ActionSpec,
        slots: Mapping[str, str],
        customer_id: str | None,
        idempotency_key: str | None = None,
    ) -> ActionResult:
        self.calls.append(spec.name)
        return self.runner.run(spec, slots, customer_id, idempotency_key)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoShop]:
    with running_demo_shop(tmp_path_factory.mktemp("shop")) as shop:
        yield shop


@pytest.fixture
def served(shop: DemoShop, tmp_path: Path) -> Iterator[Runtime]:
    """The demo knowledge base and actions, the keyword-reading fake model, the shop's API, an
    identity secret; ``sam`` and ``kim`` (agents) and ``ana`` (admin)."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/bot.db",
        index_dir=tmp_path / "index",
        company_api_url=shop.url,
        company_api_token=SHOP_TOKEN,
        identity_secret=IDENTITY_SECRET,
    )
    runtime = build_runtime(settings, encoder=FakeReader())
    runtime.staff.create_account("sam", STAFF_PASSWORD, Role.AGENT, "Sam Support")
    runtime.staff.create_account("kim", STAFF_PASSWORD, Role.AGENT, "Kim Keller")
    runtime.staff.create_account("ana", STAFF_PASSWORD, Role.ADMIN, "Ana Admin")
    yield runtime
    runtime.close()


@pytest.fixture
def client(served: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(served.settings, served)) as test_client:
        yield test_client


def taken_by(client: TestClient, chat: Chat, username: str) -> dict[str, str]:
    """The customer asks for a person and ``username`` takes the conversation: their header."""
    assert chat.turn("I want a real person")["reply"]["decision"] == "handoff"
    agent = log_in(client, username)
    taken = client.post(f"/api/staff/conversations/{chat.id}/take", headers=agent)
    assert taken.status_code == 204, taken.text
    return agent


def look_up(
    client: TestClient, chat: Chat, agent: dict[str, str], action: str, **slots: str
) -> Any:
    return client.post(
        f"/api/staff/conversations/{chat.id}/lookups",
        json={"action": action, "slots": slots},
        headers=agent,
    )


def test_the_conversation_shows_each_action_call_beside_its_message(client: TestClient) -> None:
    priya = Chat(client, "cust-42")
    turn = priya.turn("Where is my order BC-204518?")
    assert turn["reply"]["decision"] == "action" and turn["reply"]["text"] == STATUS
    missing = priya.turn("where is my order BC-999999?")
    assert missing["reply"]["decision"] == "action"
    agent = log_in(client, "sam")

    detail = client.get(f"/api/staff/conversations/{priya.id}", headers=agent).json()
    found, not_found = detail["action_calls"]
    assert found["action"] == "order_status" and found["outcome"] == "found"
    assert found["status_code"] == 200 and found["latency_ms"] > 0
    assert found["message_id"] == turn["message"]["id"] and found["looked_up_by"] is None
    assert not_found["outcome"] == "not_found" and not_found["status_code"] == 404
    assert not_found["message_id"] == missing["message"]["id"]
    messages = {m["id"]: m for m in detail["messages"]}
    assert messages[found["message_id"]]["role"] == "customer"


def test_the_agent_who_holds_the_conversation_looks_up_for_its_customer(
    client: TestClient, served: Runtime
) -> None:
    priya = Chat(client, "cust-42")
    agent = taken_by(client, priya, "sam")
    before = priya.transcript()

    response = look_up(client, priya, agent, "order_status", order_id="bc-204518")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["action"] == "order_status" and answer["outcome"] == "found"
    assert answer["text"] == STATUS
    assert answer["data"]["status"] == "in_transit"
    assert answer["data"]["shipment"]["carrier"] == "DPD"
    assert answer["status_code"] == 200
    # The answer is the agent's: the customer is told nothing.
    assert priya.transcript() == before

    # Another customer's order reads as not found, as it would in the chat.
    other = look_up(client, priya, agent, "order_status", order_id="BC-197434").json()
    assert other["outcome"] == "not_found" and other["data"] == {}

    calls = client.get(f"/api/staff/conversations/{priya.id}", headers=agent).json()
    lookups = [c for c in calls["action_calls"] if c["looked_up_by"] is not None]
    assert [(c["outcome"], c["looked_up_by"], c["message_id"]) for c in lookups] == [
        ("found", "Sam Support", None),
        ("not_found", "Sam Support", None),
    ]
    with served.sessions() as session:
        recorded = session.scalars(
            select(StaffAction).where(StaffAction.action == "lookup").order_by(StaffAction.id)
        ).all()
    assert [r.details for r in recorded] == [
        {"lookup": "order_status", "outcome": "found"},
        {"lookup": "order_status", "outcome": "not_found"},
    ]
    assert all(r.conversation_id == priya.id for r in recorded)

    listed = client.get("/api/staff/lookups", headers=agent).json()
    assert [item["name"] for item in listed] == ["order_status", "refund_status", "return_status"]
    assert listed[0]["slots"] == [
        {"name": "order_id", "example": "BC-204518", "pattern": r"BC-?\d{6}"}
    ]


def test_only_the_agent_who_holds_the_conversation_may_look_up(client: TestClient) -> None:
    priya = Chat(client, "cust-42")
    priya.turn("Where is my order BC-204518?")
    sam = log_in(client, "sam")
    before_taking = look_up(client, priya, sam, "order_status", order_id="BC-204518")
    assert before_taking.status_code == 403
    assert "take the conversation over first" in before_taking.json()["detail"]

    taken_by(client, priya, "sam")
    kim = look_up(client, priya, log_in(client, "kim"), "order_status", order_id="BC-204518")
    assert kim.status_code == 403 and "another member" in kim.json()["detail"]
    # An admin may, as with replying.
    ana = look_up(client, priya, log_in(client, "ana"), "order_status", order_id="BC-204518")
    assert ana.status_code == 200 and ana.json()["outcome"] == "found"
    anonymous = client.post(
        f"/api/staff/conversations/{priya.id}/lookups", json={"action": "order_status"}
    )
    assert anonymous.status_code == 401
    gone = client.post(
        "/api/staff/conversations/nope/lookups",
        json={"action": "order_status", "slots": {"order_id": "BC-204518"}},
        headers=sam,
    )
    assert gone.status_code == 404


def test_writes_and_the_proof_of_identity_are_not_lookups(
    client: TestClient, served: Runtime
) -> None:
    priya = Chat(client, "cust-42")
    agent = taken_by(client, priya, "sam")

    write = look_up(client, priya, agent, "cancel_order", order_id="BC-204857")
    assert write.status_code == 422
    assert "only the customer can confirm" in write.json()["detail"]
    assert "order_status" in write.json()["detail"]  # what is allowed
    proof = look_up(client, priya, agent, "verify_customer", order_id="BC-204518", email="a@b.co")
    assert proof.status_code == 422 and "proof" in proof.json()["detail"]
    unknown = look_up(client, priya, agent, "launch_rocket")
    assert unknown.status_code == 422 and "unknown action" in unknown.json()["detail"]
    no_number = look_up(client, priya, agent, "order_status", order_id="204518")
    assert no_number.status_code == 422
    assert no_number.json()["detail"] == "order_id: give a value like BC-204518"
    with served.sessions() as session:
        assert session.scalars(select(ActionCall)).all() == []


def test_without_a_verified_customer_a_lookup_is_not_allowed_and_calls_nothing(
    client: TestClient, served: Runtime
) -> None:
    counting = CountingRunner(served.support.runner)  # type: ignore[arg-type]
    served.support.runner = counting
    guest = Chat(client)  # the site vouched for nobody
    agent = taken_by(client, guest, "sam")

    answer = look_up(client, guest, agent, "order_status", order_id="BC-204518").json()
    assert answer["outcome"] == "not_allowed" and answer["status_code"] is None
    assert answer["text"].startswith("I can't look up order BC-204518 here")
    assert answer["data"] == {}
    assert counting.calls == []
    [call] = client.get(f"/api/staff/conversations/{guest.id}", headers=agent).json()[
        "action_calls"
    ]
    assert (call["outcome"], call["error"]) == ("not_allowed", "no verified customer")


def test_a_customer_who_proved_who_they_are_can_be_looked_up(client: TestClient) -> None:
    guest = Chat(client)
    asked = guest.turn("Where is my order BC-204518?")["reply"]
    assert asked["decision"] == "form"
    proved = guest.turn("priya@example.com")["reply"]
    assert proved["decision"] == "action" and proved["text"] == STATUS
    agent = taken_by(client, guest, "sam")

    answer = look_up(client, guest, agent, "order_status", order_id="BC-204518").json()
    assert answer["outcome"] == "found" and answer["text"] == STATUS
