"""Graceful overload: a turn beyond the process's bound is refused on arrival, nothing stored,
and the same message sent again after Retry-After is stored once."""

from __future__ import annotations

import gc
from collections import deque
from contextlib import AbstractContextManager, ExitStack

import pytest
from fastapi.testclient import TestClient

from bot.api.admission import BUSY, Busy, TurnsInFlight, TurnSlot
from bot.conversation.identity import CustomerIdentity
from bot.conversation.service import ClientGone
from bot.conversation.turn import Heard, Reading, TurnContext
from bot.runtime import Runtime
from tests.bot.api.test_chat_api import count_messages, start
from tests.helpers.sockets import TimedSocket


def take_every_slot(client: TestClient, stack: ExitStack) -> TurnsInFlight:
    """Hold every turn slot of the app's process, as turns running at the bound would."""
    turns: TurnsInFlight = client.app.state.turns_in_flight  # type: ignore[attr-defined]
    for _ in range(turns.limit):
        stack.enter_context(turns.admitted())
    return turns


def test_a_turn_beyond_the_bound_gets_503_and_the_resend_is_stored_once(
    client: TestClient, runtime: Runtime
) -> None:
    conversation, auth = start(client)
    url = f"/api/conversations/{conversation}/messages"
    body = {"text": "where is my order", "client_message_id": "m-1"}
    with ExitStack() as stack:
        turns = take_every_slot(client, stack)
        refused = client.post(url, json=body, headers=auth)
        assert refused.status_code == 503
        assert refused.json() == {"detail": BUSY}
        assert int(refused.headers["Retry-After"]) > 0
        assert count_messages(runtime) == 0
        # Other requests are not turns: reading the transcript still works.
        assert client.get(url, headers=auth).status_code == 200
    assert turns.running == 0
    sent = client.post(url, json=body, headers=auth)
    assert sent.status_code == 200, sent.text
    again = client.post(url, json=body, headers=auth)
    assert again.json()["message"]["id"] == sent.json()["message"]["id"]
    assert count_messages(runtime) == 2  # the message and its reply, once


def test_a_refused_turn_over_the_socket_says_when_to_send_it_again(
    client: TestClient, runtime: Runtime
) -> None:
    conversation, auth = start(client)
    token = auth["Authorization"].removeprefix("Bearer ")
    url = f"/api/conversations/{conversation}/ws"
    frame = {"type": "message", "text": "where is my order", "client_message_id": "m-2"}
    with TimedSocket(
        client.websocket_connect(url, subprotocols=["cxagent", f"token.{token}"])
    ) as ws:
        with ExitStack() as stack:
            take_every_slot(client, stack)
            ws.send_json(frame)
            refused = ws.receive_json()
        assert refused["type"] == "error" and refused["detail"] == BUSY
        assert refused["client_message_id"] == "m-2" and refused["retry_after"] > 0
        assert count_messages(runtime) == 0
        ws.send_json(frame)  # the socket stays open: the same message again
        ack = ws.receive_json()
        while ack["type"] != "ack":  # a live status frame may come first
            ack = ws.receive_json()
        assert ack["message"]["text"] == "where is my order"
    assert count_messages(runtime) == 2


def test_the_bound_counts_turns_running_and_frees_a_slot_when_a_turn_fails() -> None:
    turns = TurnsInFlight(2)
    with turns.admitted(), turns.admitted():
        assert turns.running == 2
    try:
        with turns.admitted():
            raise RuntimeError("the turn failed")
    except RuntimeError:
        pass
    assert turns.running == 0


class Clock:
    """Seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def steady_load(
    turns: TurnsInFlight,
    clock: Clock,
    per_turn: float,
    finished: int,
    company_seconds: float = 0.0,
) -> int:
    """32 customers always writing to a process that finishes one turn every ``per_turn``
    seconds, oldest first, each turn having waited ``company_seconds`` for the company's API:
    as each turn ends, the next ones are let in if the bound allows (refused ones try again at
    the next ending). The bound under that load."""
    in_flight: deque[AbstractContextManager[TurnSlot]] = deque()
    for _ in range(finished):
        while len(in_flight) < min(32, turns.bound):
            turn = turns.admitted()
            turn.__enter__().company_seconds = company_seconds
            in_flight.append(turn)
        clock.now += per_turn
        in_flight.popleft().__exit__(None, None, None)
    bound = turns.bound
    while in_flight:
        in_flight.popleft().__exit__(None, None, None)
    return bound


def test_the_bound_falls_when_turns_wait_and_comes_back_when_they_are_quick() -> None:
    clock = Clock()
    turns = TurnsInFlight(32, target_seconds=0.5, clock=clock)
    assert turns.bound == 32
    # 16 turns a second: 8 in flight keep each near half a second (32 waited 2 s each).
    assert 6 <= steady_load(turns, clock, per_turn=1 / 16, finished=100) <= 11
    with ExitStack() as stack:
        for _ in range(turns.bound):
            stack.enter_context(turns.admitted())
        with pytest.raises(Busy), turns.admitted():
            pass
    assert steady_load(turns, clock, per_turn=0.001, finished=100) == 32


def test_time_waiting_for_the_company_api_does_not_lower_the_bound() -> None:
    # The same load as above, but each turn's two seconds are all but 20 ms spent waiting for
    # the company's API: no turn is refused for it, since the wait does not load this process.
    clock = Clock()
    turns = TurnsInFlight(32, target_seconds=0.5, clock=clock)
    assert steady_load(turns, clock, per_turn=1 / 16, finished=100, company_seconds=1.98) == 32


def test_one_customer_at_a_time_keeps_the_bound_however_slow_the_turns() -> None:
    # Turns one after another say nothing of how many the process can take at once.
    clock = Clock()
    turns = TurnsInFlight(32, target_seconds=0.5, clock=clock)
    for _ in range(100):
        with turns.admitted():
            clock.now += 2.0
    assert turns.bound == 32


def test_a_turn_whose_client_left_is_dropped_before_it_is_read(runtime: Runtime) -> None:
    started = runtime.chat.start_conversation(CustomerIdentity())
    read: list[str] = []
    read_questions = runtime.chat.read_questions

    def counted(heard: Heard, context: TurnContext) -> list[Reading]:
        read.extend(heard.questions)
        return read_questions(heard, context)

    runtime.chat.read_questions = counted  # type: ignore[method-assign]
    turn = (started.conversation_id, started.customer_token, "where is my order", "m-1")

    with pytest.raises(ClientGone):
        runtime.chat.post_message(*turn, gone=lambda: True)
    assert count_messages(runtime) == 0 and read == []
    # The client comes back and sends it again: stored once, and read this time.
    assert runtime.chat.post_message(*turn, gone=lambda: False).reply is not None
    assert count_messages(runtime) == 2 and read == ["where is my order"]


def test_the_app_leaves_what_its_start_built_out_of_full_garbage_collections(
    client: TestClient,
) -> None:
    """The model and its libraries are half a million objects; a full collection walked them
    all, stopping every turn for about 200 ms. The started app has moved them out of reach."""
    assert gc.get_freeze_count() > 100_000


def scraped(client: TestClient) -> dict[str, float]:
    """/metrics as samples by name (with labels), for the token the client's app was given."""
    from prometheus_client.parser import text_string_to_metric_families

    answer = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert answer.status_code == 200, answer.text
    return {
        sample.name
        + "".join(f"{{{k}={v}}}" for k, v in sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_metrics_count_the_turns_taken_and_refused_and_the_forward_passes(
    runtime: Runtime,
) -> None:
    from pydantic import SecretStr

    from bot.app import create_app

    settings = runtime.settings.model_copy(update={"metrics_token": SecretStr("scrape-me")})
    with TestClient(create_app(settings, runtime)) as client:
        before = scraped(client)  # the counts are the process's, other tests' turns included
        conversation, auth = start(client)
        url = f"/api/conversations/{conversation}/messages"
        for _ in range(3):
            sent = client.post(url, json={"text": "where is my order"}, headers=auth)
            assert sent.status_code == 200, sent.text
        with ExitStack() as stack:
            turns = take_every_slot(client, stack)
            assert client.post(url, json={"text": "hello"}, headers=auth).status_code == 503
            during = scraped(client)
        after = scraped(client)

    def added(name: str, since: dict[str, float] = before, now: dict[str, float] = after) -> float:
        return now.get(name, 0.0) - since.get(name, 0.0)

    # The three turns, and the slots the test held as turns at the bound would.
    assert added("cxagent_turn_seconds_count") == 3 + turns.limit
    assert added("cxagent_turn_seconds_sum") > 0
    assert added("cxagent_turns_refused_total") == 1
    assert during["cxagent_turns_running"] == turns.limit
    assert after["cxagent_turns_running"] == 0
    assert after["cxagent_turn_bound"] == turns.bound
    # Each turn's message took one forward pass, alone.
    assert added("cxagent_forward_pass_seconds_count") == 3
    assert added("cxagent_forward_pass_messages_sum") == 3
    assert "cxagent_messages_total{role=customer}" in after  # what the database says, beside
