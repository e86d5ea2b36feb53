"""Actions in conversation, as customers would have them: the demo model and knowledge base, the
demo actions, and the demo shop's own API over real HTTP. Forms, read and write actions,
ownership, proof of identity, and a company API that fails."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.config import DEMO_DIR, Settings
from bot.demo_shop.server import DemoShop
from bot.runtime import Runtime, build_runtime
from bot.storage.models import ActionCall, Conversation
from retrieval.encoder import Encoder
from tests.helpers.actions import IDENTITY_SECRET, SHOP_TOKEN, Chat, running_demo_shop

pytestmark = pytest.mark.real_model
METRICS_TOKEN = "scrape"


def run(
    served_encoder: Encoder,
    folder: Path,
    index_dir: Path,
    company_api_url: str,
    actions: Path | None = None,
    **more_settings: Any,
) -> tuple[Runtime, TestClient]:
    settings = Settings(
        database_url=f"sqlite:///{folder}/bot.db",
        index_dir=index_dir,
        company_api_url=company_api_url,
        company_api_token=SHOP_TOKEN,
        identity_secret=IDENTITY_SECRET,
        actions=actions or DEMO_DIR / "actions.yaml",
        metrics_token=METRICS_TOKEN,
        **more_settings,
    )
    runtime = build_runtime(settings, encoder=served_encoder)
    return runtime, TestClient(create_app(settings, runtime))


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One index for every runtime here: building it with the real model takes seconds."""
    return tmp_path_factory.mktemp("index")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoShop]:
    with running_demo_shop(tmp_path_factory.mktemp("shop")) as shop:
        yield shop


@pytest.fixture(scope="module")
def served(
    served_encoder: Encoder,
    shop: DemoShop,
    index_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Runtime, TestClient]]:
    runtime, client = run(served_encoder, tmp_path_factory.mktemp("bot"), index_dir, shop.url)
    with client:
        yield runtime, client
    runtime.close()


@pytest.fixture
def client(served: tuple[Runtime, TestClient]) -> TestClient:
    return served[1]


def order_at_shop(shop: DemoShop, order_id: str, customer_id: str) -> dict[str, Any]:
    """The order as the shop itself has it now (to check what a write did)."""
    response = httpx.get(
        f"{shop.url}/orders/{order_id}",
        headers={"Authorization": f"Bearer {SHOP_TOKEN}", "X-Customer-Id": customer_id},
    )
    assert response.status_code == 200, response.text
    order: dict[str, Any] = response.json()
    return order


def test_an_order_of_the_customers_own_answers_with_its_status_and_follow_ups_reuse_it(
    client: TestClient,
) -> None:
    priya = Chat(client, "cust-42")
    status = priya.says("where is my order BC-204518?")
    assert status["decision"] == "action"
    assert status["text"] == (
        "Order BC-204518 is on its way with DPD (tracking number 15501703246599) and should "
        "arrive by 1 December 2026."
    )
    when = priya.says("when will it arrive?")
    assert when["decision"] == "action" and "should arrive by 1 December 2026" in when["text"]


def test_a_question_without_a_number_asks_for_it_and_resumes(client: TestClient) -> None:
    priya = Chat(client, "cust-42")
    asked = priya.says("where is my order?")
    assert asked["decision"] == "form" and "BC-204518" in asked["text"]  # the example
    placed = priya.says("it's BC-204857")
    assert placed["decision"] == "action"
    assert placed["text"].startswith("Order BC-204857 has been placed")


def test_a_wrong_answer_is_asked_again_once_then_a_person_can_be_asked_for(
    client: TestClient,
) -> None:
    priya = Chat(client, "cust-42")
    priya.says("where's my parcel?")
    again = priya.says("I don't know it")
    assert again["decision"] == "form" and again["text"].startswith("Sorry, I couldn't find")
    person = priya.says("I want to talk to a person")
    assert person["decision"] == "handoff"


def test_the_customer_can_change_the_subject_in_the_middle_of_a_form(client: TestClient) -> None:
    priya = Chat(client, "cust-42")
    assert priya.says("where is my order?")["decision"] == "form"
    paying = priya.says("which payment methods do you accept?")
    assert paying["decision"] in {"intent", "answer"}
    assert paying["entry_id"].startswith("payment")
    # The form is forgotten: an order number now is no answer to an old question.
    assert priya.says("thanks")["decision"] != "action"


def test_another_customers_order_reads_exactly_like_an_unknown_one(client: TestClient) -> None:
    priya = Chat(client, "cust-42")
    toms = priya.says("where is my order BC-204805?")  # Tom's
    unknown = priya.says("where is my order BC-999999?")
    assert toms["decision"] == unknown["decision"] == "action"
    assert toms["text"].replace("204805", "N") == unknown["text"].replace("999999", "N")
    assert "processing" not in toms["text"] and "Tom" not in toms["text"]


def test_a_malformed_number_is_asked_for_again_with_an_example(client: TestClient) -> None:
    priya = Chat(client, "cust-42")
    priya.says("where is my order?")
    malformed = priya.says("BC-12")
    assert malformed["decision"] == "form" and "BC-204518" in malformed["text"]


def test_an_anonymous_customer_proves_the_order_is_theirs_with_its_email(
    client: TestClient,
) -> None:
    visitor = Chat(client)
    asked = visitor.says("where is my order BC-204518?")
    assert asked["decision"] == "form" and "e-mail" in asked["text"]
    status = visitor.says("priya@example.com")
    assert status["decision"] == "action" and "on its way with DPD" in status["text"]
    # Proved once for the conversation: the next question needs no e-mail again.
    assert priya_next(visitor)["decision"] == "action"


def priya_next(chat: Chat) -> dict[str, Any]:
    return chat.says("when will it arrive?")


def test_a_wrong_email_reads_like_an_unknown_order_and_tells_nothing(client: TestClient) -> None:
    visitor = Chat(client)
    visitor.says("where is my order BC-204518?")
    refused = visitor.says("someone@else.example.com")
    assert refused["decision"] == "action"
    assert refused["text"].startswith("I couldn't find an order BC-204518")
    assert "DPD" not in refused["text"]


def test_a_cancellation_says_what_it_will_do_waits_for_yes_and_runs_once(
    served: tuple[Runtime, TestClient], shop: DemoShop
) -> None:
    runtime, client = served
    tom = Chat(client, "cust-7")
    confirm = tom.says("I want to cancel my order BC-204805")
    assert confirm["decision"] == "form" and "Shall I go ahead?" in confirm["text"]
    assert order_at_shop(shop, "BC-204805", "cust-7")["status"] == "processing"
    done = tom.says("yes please", client_message_id="yes-1")
    assert done["decision"] == "action"
    assert order_at_shop(shop, "BC-204805", "cust-7")["status"] == "cancelled"
    # A resend of the same message is answered once, from the first turn.
    assert tom.says("yes please", client_message_id="yes-1") == done
    with runtime.sessions() as session:
        calls = session.scalars(
            select(ActionCall).where(
                ActionCall.conversation_id == tom.id, ActionCall.action == "cancel_order"
            )
        ).all()
    assert [call.outcome for call in calls] == ["found"]


def test_no_to_a_cancellation_changes_nothing(client: TestClient, shop: DemoShop) -> None:
    aisha = Chat(client, "cust-108")
    assert "Shall I go ahead?" in aisha.says("please cancel order BC-204862")["text"]
    declined = aisha.says("no")
    assert declined["decision"] == "form" and "haven't changed anything" in declined["text"]
    assert order_at_shop(shop, "BC-204862", "cust-108")["status"] == "placed"


def test_an_order_on_its_way_cannot_be_cancelled_and_a_person_is_offered(
    client: TestClient, shop: DemoShop
) -> None:
    priya = Chat(client, "cust-42")
    priya.says("I want to cancel order BC-204518")
    refused = priya.says("yes")
    assert refused["decision"] == "action_failed"
    assert "connect you with a person" in refused["text"]
    assert order_at_shop(shop, "BC-204518", "cust-42")["status"] == "in_transit"
    assert priya.says("yes")["decision"] == "handoff"


def test_a_write_for_someone_who_cannot_prove_the_order_is_theirs_does_nothing(
    client: TestClient, shop: DemoShop
) -> None:
    visitor = Chat(client)
    visitor.says("cancel my order BC-204853")
    visitor.says("not-gareth@example.com")
    # The proof is checked when the change would be made: the order reads as not found.
    refused = visitor.says("yes")
    assert refused["text"].startswith("I couldn't find an order BC-204853")
    assert order_at_shop(shop, "BC-204853", "cust-56")["status"] == "placed"


def test_a_return_is_started_for_an_item_of_a_delivered_order(
    served: tuple[Runtime, TestClient], shop: DemoShop
) -> None:
    runtime, client = served
    priya = Chat(client, "cust-42")
    asked = priya.says("I'd like to return something from order BC-203749")
    assert asked["decision"] == "form" and "KIT-KNF-005" in asked["text"]  # the sku example
    confirm = priya.says("the kettle, KIT-KTL-017")
    assert confirm["decision"] == "form" and "Shall I go ahead?" in confirm["text"]
    started = priya.says("yes", client_message_id="return-yes")
    assert started["decision"] == "action"
    returned = order_at_shop(shop, "BC-203749", "cust-42")["return"]
    assert returned["sku"] == "KIT-KTL-017"
    # Resent after a lost answer: the first turn again, and the shop is not called twice.
    assert priya.says("yes", client_message_id="return-yes") == started
    assert order_at_shop(shop, "BC-203749", "cust-42")["return"] == returned
    with runtime.sessions() as session:
        outcomes = session.scalars(
            select(ActionCall.outcome).where(
                ActionCall.conversation_id == priya.id, ActionCall.action == "start_return"
            )
        ).all()
    assert outcomes == ["found"]


def test_the_conversation_keeps_the_order_but_never_the_email(
    served: tuple[Runtime, TestClient],
) -> None:
    runtime, client = served
    visitor = Chat(client)
    visitor.says("where is my order BC-204518?")
    visitor.says("priya@example.com")
    with runtime.sessions() as session:
        conversation = session.get(Conversation, visitor.id)
        assert conversation is not None
        assert conversation.slots == {"order_id": "BC-204518"}
        assert conversation.dialogue is not None
        assert conversation.dialogue["proven_customer_id"] == "cust-42"
        calls = session.execute(
            select(ActionCall.action, ActionCall.outcome, ActionCall.error)
            .where(ActionCall.conversation_id == visitor.id)
            .order_by(ActionCall.id)
        ).all()
    # The proof's check is a call of its own, recorded like any other, without the address.
    assert [(action, outcome) for action, outcome, _ in calls] == [
        ("verify_customer", "found"),
        ("order_status", "found"),
    ]
    assert not any("priya@" in (error or "") for _, _, error in calls)


class FailingApi(http.server.BaseHTTPRequestHandler):
    """A company API that is up but broken: every request answers 500."""

    hits = 0

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        type(self).hits += 1
        self.send_response(500)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet."""


@pytest.fixture
def failing_api() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FailingApi)
    FailingApi.hits = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_an_api_that_is_down_gets_the_failure_wording_and_a_person(
    served_encoder: Encoder, tmp_path: Path, index_dir: Path
) -> None:
    runtime, client = run(served_encoder, tmp_path, index_dir, f"http://127.0.0.1:{free_port()}")
    with client:
        priya = Chat(client, "cust-42")
        failed = priya.says("where is my order BC-204518?")
        assert failed["decision"] == "action_failed"
        assert failed["text"].startswith("I can't reach our order system right now")
        assert priya.says("yes")["decision"] == "handoff"
    runtime.close()


def test_an_api_answering_500_opens_the_circuit_after_three_failures(
    served_encoder: Encoder, tmp_path: Path, index_dir: Path, failing_api: str
) -> None:
    runtime, client = run(served_encoder, tmp_path, index_dir, failing_api)
    with client:
        for _ in range(3):
            reply = Chat(client, "cust-42").says("where is my order BC-204518?")
            assert reply["decision"] == "action_failed"
        hits = FailingApi.hits
        assert hits >= 3
        fourth = Chat(client, "cust-42").says("where is my order BC-204518?")
        assert fourth["decision"] == "action_failed"
        assert FailingApi.hits == hits  # the open circuit answered without calling
        with runtime.sessions() as session:
            errors = session.scalars(select(ActionCall.error).order_by(ActionCall.id)).all()
        assert len(errors) == 4 and "circuit open" in (errors[-1] or "")
        metrics = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
        assert 'cxagent_action_calls_total{action="order_status",outcome="failed"} 4' in metrics
    runtime.close()


class SilentApi(http.server.BaseHTTPRequestHandler):
    """A company API that takes the request and never answers in time."""

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        STALLED.wait(timeout=10)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet."""


STALLED = threading.Event()


def test_an_api_slower_than_the_actions_timeout_gets_the_failure_wording(
    served_encoder: Encoder, tmp_path: Path, index_dir: Path
) -> None:
    # The demo actions, with half a second for order_status and no retry.
    actions = tmp_path / "actions.yaml"
    demo = (DEMO_DIR / "actions.yaml").read_text(encoding="utf-8")
    actions.write_text(demo.replace("timeout_s: 3\n      retries: 1", "timeout_s: 0.5", 1))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SilentApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    STALLED.clear()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    # Turns should take at most a fifth of a second here: the half second this one waits for the
    # company's API must not count against it, since that wait does not load the process.
    runtime, client = run(
        served_encoder, tmp_path, index_dir, url, actions, turn_target_seconds=0.2
    )
    try:
        with client:
            slow = Chat(client, "cust-42").says("where is my order BC-204518?")
            assert slow["decision"] == "action_failed"
            assert slow["text"].startswith("I can't reach our order system right now")
            with runtime.sessions() as session:
                call = session.scalars(select(ActionCall)).one()
            assert call.outcome == "failed" and call.status_code is None
            turns = client.app.state.turns_in_flight  # type: ignore[attr-defined]
            assert turns.bound == turns.limit
    finally:
        STALLED.set()
        runtime.close()
        server.shutdown()
        server.server_close()
