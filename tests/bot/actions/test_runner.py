"""Running actions against a real HTTP server: each outcome, retries, headers, the time budget
and the circuit breaker.

The server (uvicorn, in a thread, on a free port) stands in for a company's API and answers by
the first part of the path, so an action's path picks the behaviour: ``/orders/BC-204518`` is an
order, ``/missing/…`` a 404, ``/slow/…`` an answer that comes too late. It records every request
it gets (``hits``). The circuit breaker's clock is a ``Clock`` the tests move by hand.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.actions import ActionRunner, ActionSpec, CircuitBreaker, Outcome
from bot.actions.runner import GRACE_S, NOT_KNOWN, answer_text
from tests.helpers.servers import uvicorn_serving

API_TOKEN = "s3cret-api-token"
# Longer than any timeout the tests give an action; short enough that the server shuts down soon.
SLOW_S = 2.0


def order(order_id: str, *, shipped: bool = True) -> dict[str, Any]:
    shipment = {
        "carrier": "DPD",
        "tracking_number": "15501700104729",
        "estimated_delivery": "2026-12-02",
        "delivered_at": None,
    }
    return {
        "order_id": order_id,
        "status": "dispatched" if shipped else "processing",
        "total": 42.95,
        "items": [{"sku": "HOM-THR-OAT", "name": "Chunky Knit Throw", "quantity": 1}],
        "shipment": shipment if shipped else None,
        "refund": None,
    }


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeApi:
    base_url: str = ""
    hits: list[Hit] = field(default_factory=list)
    failing: bool = True  # what /switch does: 500 while failing, an order once healthy

    def count(self, kind: str) -> int:
        return sum(1 for hit in self.hits if hit.path.startswith(f"/{kind}"))


def _app(api: FakeApi) -> Starlette:
    async def answer(request: Request) -> Response:
        api.hits.append(
            Hit(request.method, request.url.path, dict(request.headers), await request.body())
        )
        kind = request.path_params["kind"]
        rest = request.path_params.get("rest", "")
        order_id = rest.split("/")[0]
        if kind == "slow":
            await asyncio.sleep(SLOW_S)
        if kind == "switch":
            kind = "boom" if api.failing else "orders"
        fixed = {
            "missing": (404, {"detail": "no such order"}),
            "forbidden": (403, {"detail": "not yours"}),
            "unprocessable": (422, {"detail": "not an order number"}),
            "conflict": (409, {"detail": "already dispatched", "code": "not_cancellable"}),
            "boom": (500, {"detail": "internal error"}),
            "unauthorised": (401, {"detail": "no token"}),
            "list": (200, [1, 2]),
            "pending": (200, order(order_id, shipped=False)),
            "echo": (
                200,
                {"order_id": order_id, "body": json.loads(await request.body() or b"{}")},
            ),
        }
        if kind in fixed:
            status, content = fixed[kind]
            return JSONResponse(content, status_code=status)
        if kind == "malformed":
            return Response('{"order_id": "BC-', media_type="application/json")
        if kind == "empty":
            return Response(status_code=204)
        return JSONResponse(order(order_id))

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(
        routes=[
            Route("/{kind}", answer, methods=methods),
            Route("/{kind}/{rest:path}", answer, methods=methods),
        ]
    )


@pytest.fixture(scope="module")
def served_api() -> Iterator[FakeApi]:
    api = FakeApi()
    with uvicorn_serving(_app(api), lifespan="off", ws="none", timeout_graceful_shutdown=1) as port:
        api.base_url = f"http://127.0.0.1:{port}"
        yield api


@pytest.fixture
def api(served_api: FakeApi) -> FakeApi:
    """The module's server, its record and its switch fresh for each test."""
    served_api.hits.clear()
    served_api.failing = True
    return served_api


class Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def runner(api: FakeApi, clock: Clock) -> Iterator[ActionRunner]:
    runner = ActionRunner(api.base_url, API_TOKEN, failures_to_open=3, open_seconds=30, clock=clock)
    try:
        yield runner
    finally:
        runner.close()


@pytest.fixture
def refused_url() -> str:
    """A port on this machine with nothing listening on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def spec(
    path: str = "/orders/{order_id}",
    *,
    method: str = "GET",
    retries: int = 0,
    timeout_s: float = 2.0,
    found: str = "Order {order_id} is {status}, with {shipment[carrier]}.",
    writes: bool = False,
    body: dict[str, Any] | None = None,
) -> ActionSpec:
    return ActionSpec.model_validate(
        {
            "name": "order_status",
            "description": "Where an order is.",
            "slots": [
                {
                    "name": "order_id",
                    "pattern": r"BC-?\d{6}",
                    "normalise": "upper",
                    "example": "BC-204518",
                    "ask": "Which order?",
                }
            ],
            "call": {
                "method": method,
                "path": path,
                "headers": {"Authorization": "Bearer {secret}"},
                "timeout_s": timeout_s,
                "retries": retries,
                "body": body,
            },
            "answers": {
                "found": found,
                "not_found": "I couldn't find order {order_id}.",
                "failed": "I can't check order {order_id} right now.",
                "not_allowed": "Order {order_id} can't be changed now.",
            },
            "writes": writes,
            "confirm": "Shall I do it to {order_id}?" if writes else None,
        }
    )


ORDER = {"order_id": "bc-204518"}


def test_an_order_is_found_and_worded_from_the_json(api: FakeApi, runner: ActionRunner) -> None:
    result = runner.run(spec(), ORDER, "cust-42")
    assert result.outcome is Outcome.FOUND
    assert result.text == "Order BC-204518 is dispatched, with DPD."
    assert result.data == order("BC-204518")
    assert result.status_code == 200 and result.error is None
    assert result.latency_ms > 0
    assert [hit.path for hit in api.hits] == ["/orders/BC-204518"]  # the slot normalised


def test_the_token_the_customer_and_the_idempotency_key_are_sent(
    api: FakeApi, runner: ActionRunner
) -> None:
    runner.run(spec(), ORDER, "cust-42", idempotency_key="turn-17")
    runner.run(spec(), ORDER, None)
    with_all, bare = (hit.headers for hit in api.hits)
    assert with_all["authorization"] == f"Bearer {API_TOKEN}"
    assert with_all["x-customer-id"] == "cust-42"
    assert with_all["idempotency-key"] == "turn-17"
    assert with_all["accept"] == "application/json"
    assert bare["authorization"] == f"Bearer {API_TOKEN}"
    assert "x-customer-id" not in bare and "idempotency-key" not in bare


def test_a_write_sends_its_body_from_the_slots(api: FakeApi, runner: ActionRunner) -> None:
    write = spec(
        "/echo/{order_id}/returns",
        method="POST",
        writes=True,
        body={"sku": "{order_id}-1", "customer": "{customer_id}", "quantity": 1},
        found="Started for {order_id}: {body[sku]} x{body[quantity]}.",
    )
    result = runner.run(write, ORDER, "cust-42", idempotency_key="k1")
    assert result.outcome is Outcome.FOUND, result.error
    assert result.text == "Started for BC-204518: BC-204518-1 x1."
    (hit,) = api.hits
    assert hit.method == "POST"
    assert json.loads(hit.body) == {"sku": "BC-204518-1", "customer": "cust-42", "quantity": 1}


def test_a_null_in_the_answer_reads_as_not_known_yet(runner: ActionRunner) -> None:
    result = runner.run(spec("/pending/{order_id}"), ORDER, "cust-42")
    assert result.outcome is Outcome.FOUND
    assert result.text == f"Order BC-204518 is processing, with {NOT_KNOWN}."


def test_an_empty_success_is_found_with_no_data(runner: ActionRunner) -> None:
    result = runner.run(spec("/empty/{order_id}", found="Done for {order_id}."), ORDER, "c")
    assert (result.outcome, result.text, result.data) == (Outcome.FOUND, "Done for BC-204518.", {})
    assert result.status_code == 204


def test_a_field_missing_from_the_answer_fails_without_a_crash(
    api: FakeApi, runner: ActionRunner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.actions.runner")
    result = runner.run(spec(found="Refund: {refund[amount]}; {rating}"), ORDER, "cust-42")
    assert result.outcome is Outcome.FAILED
    assert result.text == "I can't check order BC-204518 right now."
    assert result.error is not None and "answers.found" in result.error
    assert result.status_code == 200 and result.data == {}
    assert "answers.found" in caplog.text
    # The API answered: a template that does not fit it is no reason to stop calling it.
    for _ in range(4):
        runner.run(spec(found="{rating}"), ORDER, "cust-42")
    assert runner.breaker.state == "closed"


@pytest.mark.parametrize("kind", ["missing", "forbidden", "unprocessable"])
def test_unknown_someone_elses_or_malformed_is_not_found(
    api: FakeApi, runner: ActionRunner, kind: str
) -> None:
    result = runner.run(spec(f"/{kind}/{{order_id}}", retries=2), ORDER, "cust-42")
    assert result.outcome is Outcome.NOT_FOUND
    assert result.text == "I couldn't find order BC-204518."
    assert result.data == {} and result.error is None
    assert api.count(kind) == 1  # an answer, not a failure: no retry


def test_a_refusal_is_not_allowed(api: FakeApi, runner: ActionRunner) -> None:
    write = spec("/conflict/{order_id}/cancel", method="POST", writes=True)
    result = runner.run(write, ORDER, "cust-42", idempotency_key="k")
    assert (result.outcome, result.status_code) == (Outcome.NOT_ALLOWED, 409)
    assert result.data == {"detail": "already dispatched", "code": "not_cancellable"}
    assert result.text == "Order BC-204518 can't be changed now."


@pytest.mark.parametrize(
    ("kind", "status", "error"),
    [
        ("boom", 500, "HTTP 500"),
        ("unauthorised", 401, "HTTP 401"),
        ("malformed", 200, "not a JSON object"),
        ("list", 200, "not a JSON object"),
    ],
)
def test_errors_and_nonsense_fail(
    api: FakeApi, runner: ActionRunner, kind: str, status: int, error: str
) -> None:
    result = runner.run(spec(f"/{kind}/{{order_id}}"), ORDER, "cust-42")
    assert result.outcome is Outcome.FAILED
    assert result.text == "I can't check order BC-204518 right now."
    assert result.status_code == status and result.data == {}
    assert result.error is not None and error in result.error


def test_a_get_is_retried_on_a_server_error_and_a_write_never(
    api: FakeApi, runner: ActionRunner
) -> None:
    assert runner.run(spec("/boom/{order_id}", retries=2), ORDER, "c").outcome is Outcome.FAILED
    assert api.count("boom") == 3
    api.hits.clear()
    write = spec("/boom/{order_id}/cancel", method="POST", writes=True)
    assert runner.run(write, ORDER, "c", idempotency_key="k").outcome is Outcome.FAILED
    assert api.count("boom") == 1
    api.hits.clear()
    assert runner.run(spec("/malformed/{order_id}", retries=2), ORDER, "c").outcome == "failed"
    assert api.count("malformed") == 1  # the API answered: asking again will not mend it


def test_a_get_that_fails_then_succeeds_is_found(api: FakeApi, runner: ActionRunner) -> None:
    api.failing = False
    result = runner.run(spec("/switch/{order_id}", retries=1), ORDER, "c")
    assert result.outcome is Outcome.FOUND


def test_a_slow_api_fails_within_the_time_budget(api: FakeApi, runner: ActionRunner) -> None:
    started = time.monotonic()
    result = runner.run(spec("/slow/{order_id}", timeout_s=0.2), ORDER, "cust-42")
    elapsed = time.monotonic() - started
    assert result.outcome is Outcome.FAILED
    assert result.error is not None and "timed out" in result.error
    assert result.status_code is None
    assert elapsed < 0.2 + GRACE_S + 1.0  # generous: the point is it does not wait SLOW_S
    assert api.count("slow") == 1


def test_a_slow_get_is_retried_within_its_budget(api: FakeApi, runner: ActionRunner) -> None:
    started = time.monotonic()
    action = spec("/slow/{order_id}", timeout_s=0.2, retries=1)
    assert runner.run(action, ORDER, "c").outcome is Outcome.FAILED
    assert time.monotonic() - started < action.call.budget_s + GRACE_S + 1.0
    assert api.count("slow") == 2


def test_a_refused_connection_fails(refused_url: str, clock: Clock) -> None:
    runner = ActionRunner(refused_url, API_TOKEN, clock=clock)
    try:
        result = runner.run(spec(retries=1), ORDER, "cust-42")
    finally:
        runner.close()
    assert result.outcome is Outcome.FAILED
    assert result.status_code is None
    assert result.error is not None and "ConnectError" in result.error
    assert result.text == "I can't check order BC-204518 right now."


def test_nothing_is_sent_without_a_valid_slot_or_for_a_write_without_a_customer(
    api: FakeApi, runner: ActionRunner
) -> None:
    bad = runner.run(spec(), {"order_id": "BC-12"}, "cust-42")
    assert (bad.outcome, bad.error) == (Outcome.FAILED, "slot 'order_id' not valid")
    assert bad.text == "I can't check order  right now."
    write = spec("/orders/{order_id}/cancel", method="POST", writes=True)
    anonymous = runner.run(write, ORDER, None, idempotency_key="k")
    assert anonymous.outcome is Outcome.NOT_ALLOWED
    assert anonymous.error == "needs a verified customer"
    needs_customer = spec("/orders/{order_id}?customer={customer_id}")
    assert runner.run(needs_customer, ORDER, None).outcome is Outcome.NOT_ALLOWED
    assert api.hits == []


def test_the_circuit_opens_after_failures_in_a_row_and_closes_after_a_good_trial(
    api: FakeApi, runner: ActionRunner, clock: Clock
) -> None:
    switch = spec("/switch/{order_id}")
    for _ in range(3):
        assert runner.run(switch, ORDER, "c").error == "HTTP 500"
    assert runner.breaker.state == "open"
    api.failing = False
    # Open: every call fails at once, whichever action it is, and the API hears nothing.
    for action in (switch, spec()):
        result = runner.run(action, ORDER, "c")
        assert (result.outcome, result.error) == (Outcome.FAILED, "circuit open")
        assert result.text == "I can't check order BC-204518 right now."
    clock.advance(29.9)
    assert runner.run(switch, ORDER, "c").error == "circuit open"
    assert len(api.hits) == 3
    # Half-open: one trial goes through; it succeeds, and the circuit closes.
    clock.advance(0.1)
    assert runner.breaker.state == "half-open"
    assert runner.run(switch, ORDER, "c").outcome is Outcome.FOUND
    assert runner.breaker.state == "closed"
    assert runner.run(spec(), ORDER, "c").outcome is Outcome.FOUND
    assert len(api.hits) == 5


def test_a_failed_trial_opens_the_circuit_again(
    api: FakeApi, runner: ActionRunner, clock: Clock
) -> None:
    switch = spec("/switch/{order_id}")
    for _ in range(3):
        runner.run(switch, ORDER, "c")
    clock.advance(30)
    assert runner.run(switch, ORDER, "c").error == "HTTP 500"  # the trial
    assert runner.run(switch, ORDER, "c").error == "circuit open"
    assert len(api.hits) == 4
    api.failing = False
    clock.advance(30)
    assert runner.run(switch, ORDER, "c").outcome is Outcome.FOUND
    assert runner.breaker.state == "closed"


def test_a_timeout_and_a_refused_connection_count_against_the_circuit(
    refused_url: str, clock: Clock
) -> None:
    runner = ActionRunner(refused_url, API_TOKEN, failures_to_open=2, clock=clock)
    try:
        for _ in range(2):
            assert runner.run(spec(), ORDER, "c").error != "circuit open"
        assert runner.run(spec(), ORDER, "c").error == "circuit open"
    finally:
        runner.close()


def test_answers_in_between_failures_reset_the_count(api: FakeApi, runner: ActionRunner) -> None:
    for _ in range(3):
        runner.run(spec("/boom/{order_id}"), ORDER, "c")
        runner.run(spec("/boom/{order_id}"), ORDER, "c")
        runner.run(spec("/missing/{order_id}"), ORDER, "c")  # the API working: a 404
    assert runner.breaker.state == "closed"


def test_the_breaker_lets_one_trial_through_at_a_time(clock: Clock) -> None:
    breaker = CircuitBreaker(failures_to_open=1, open_seconds=5, clock=clock)
    assert breaker.admit()
    breaker.record(False)
    assert not breaker.admit()
    clock.advance(5)
    assert breaker.admit()
    assert not breaker.admit()  # the trial is under way
    breaker.record(True)
    assert breaker.admit() and breaker.admit()


def test_many_threads_run_actions_at_once(api: FakeApi, runner: ActionRunner) -> None:
    numbers = [f"BC-{n:06d}" for n in range(20)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: runner.run(spec(), {"order_id": n}, "c"), numbers))
    assert [r.data["order_id"] for r in results] == numbers


def test_the_log_has_the_outcome_and_no_secrets_or_personal_data(
    api: FakeApi, runner: ActionRunner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.actions.runner")
    runner.run(spec(), ORDER, "cust-42", idempotency_key="k")
    runner.run(spec("/boom/{order_id}"), ORDER, "cust-42")
    found, failed = (r.getMessage() for r in caplog.records)
    assert found.startswith("action order_status: found (status 200, ")
    assert failed.startswith("action order_status: failed (status 500, ")
    assert failed.endswith(": HTTP 500")
    for secret in (API_TOKEN, "cust-42", "204518", "DPD"):
        assert secret not in caplog.text
    assert API_TOKEN not in repr(runner)


def test_a_closed_runner_fails_at_once(api: FakeApi, clock: Clock) -> None:
    runner = ActionRunner(api.base_url, API_TOKEN, clock=clock)
    assert runner.run(spec(), ORDER, "c").outcome is Outcome.FOUND
    runner.close()
    runner.close()
    result = runner.run(spec(), ORDER, "c")
    assert (result.outcome, result.error) == (Outcome.FAILED, "runner closed")
    assert len(api.hits) == 1


def test_an_answer_can_be_worded_without_a_call() -> None:
    action = spec()
    assert answer_text(action, Outcome.NOT_ALLOWED, {"order_id": "BC-204518"}) == (
        "Order BC-204518 can't be changed now."
    )
    assert answer_text(action, Outcome.FAILED, {}) == "I can't check order  right now."
    with pytest.raises(ValueError, match="run the action"):
        answer_text(action, Outcome.FOUND, {})
