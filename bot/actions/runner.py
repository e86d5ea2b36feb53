"""Run an action: one HTTP call to the company's API, its answer worded for the customer.

``ActionRunner.run`` is called from a worker thread of the web server (never the model's
inference thread). The call itself is async, on an httpx ``AsyncClient`` living on the runner's
own event-loop thread, started on first use; ``run`` waits for it at most the action's time
budget (every try and back-off, plus ``GRACE_S``), so a hung API costs a turn seconds, not a
worker.

What the API answers becomes one of four outcomes:

| answer                                                         | outcome         |
| -------------------------------------------------------------- | --------------- |
| 2xx with a JSON object (or an empty body)                      | ``found``       |
| 404 or 403 (nobody learns that someone else's order exists)    | ``not_found``   |
| 422 (the API cannot take the value: a malformed order number)  | ``not_found``   |
| 409 (the API refuses: the order is already dispatched, …)      | ``not_allowed`` |
| timeout, refused, 5xx, other 4xx, malformed or non-object JSON | ``failed``      |

A GET is tried again, after a short pause, on a timeout, a connection error or a 5xx; nothing
else is (a write tried twice could happen twice). A circuit breaker per runner, that is per
company API, stops calling an API that keeps failing; see ``CircuitBreaker``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import enum
import logging
import string
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from bot.actions.spec import CUSTOMER_ID, SECRET, ActionSpec, backoffs, field_path

logger = logging.getLogger(__name__)

# How much longer than the action's own budget ``run`` waits before it gives up (seconds).
GRACE_S = 0.5
_NOT_FOUND = frozenset({403, 404, 422})
_NOT_ALLOWED = frozenset({409})
# A null in the API's answer, as the customer reads it.
NOT_KNOWN = "not known yet"


class Outcome(enum.StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    FAILED = "failed"
    NOT_ALLOWED = "not_allowed"


@dataclass(frozen=True)
class ActionResult:
    """What one run of an action came to. ``error`` is for the log: it never carries the API
    token, a request or response body, or the customer's values."""

    action: str
    outcome: Outcome
    text: str  # the answer worded for the customer
    # The API's JSON object when found (or refused: its reason), else {}.
    data: dict[str, Any] = field(default_factory=dict)
    status_code: int | None = None
    latency_ms: float = 0.0
    error: str | None = None


class CircuitBreaker:
    """Closed; open after ``failures_to_open`` failed calls in a row, refusing every call for
    ``open_seconds``; then half-open, letting one trial call through: its success closes the
    circuit, its failure opens it again.

    About 30 lines of our own rather than pybreaker, aiobreaker or purgatory: those read the
    wall clock themselves (tests would have to sleep through the open period or patch
    ``datetime``), pybreaker's async support is Tornado's, and all three count raised
    exceptions, while a failure here is an outcome (a 5xx) as often as an exception.
    """

    def __init__(self, failures_to_open: int, open_seconds: float, clock: Callable[[], float]):
        if failures_to_open < 1 or open_seconds < 0:
            raise ValueError("failures_to_open must be at least 1 and open_seconds at least 0")
        self.failures_to_open = failures_to_open
        self.open_seconds = open_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False  # the half-open trial call is under way
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            waited = self._clock() - self._opened_at
            return "half-open" if waited >= self.open_seconds else "open"

    def admit(self) -> bool:
        """May a call go out now? In the half-open state, True once, for the trial."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._trial or self._clock() - self._opened_at < self.open_seconds:
                return False
            self._trial = True
            return True

    def record(self, success: bool) -> None:
        with self._lock:
            trial, self._trial = self._trial, False
            if success:
                self._failures, self._opened_at = 0, None
                return
            self._failures += 1
            if trial or self._failures >= self.failures_to_open:
                self._opened_at = self._clock()


@dataclass(frozen=True)
class _Request:
    method: str
    url: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    values: dict[str, str]  # the slots, normalised: what the answers are worded with


@dataclass(frozen=True)
class _Reply:
    """One call's end: the response, or why there is none."""

    response: httpx.Response | None
    error: str | None = None

    @property
    def retryable(self) -> bool:
        return self.response is None or self.response.status_code >= 500


class _AnswerFormatter(string.Formatter):
    """``str.format_map`` over JSON: keys only (no attributes), and a null, or anything below
    one, reads as ``NOT_KNOWN``. A missing key raises KeyError."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        root, keys = field_path(field_name)
        value = kwargs[root]
        for key in keys:
            if value is None:
                break
            try:
                value = value[key]
            except (IndexError, TypeError) as error:
                raise KeyError(field_name) from error
        return value, root

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        # `!d`: an ISO 8601 date or time from the API, as people write a date ("1 December
        # 2026"); anything else is left as it came.
        if conversion == "d":
            return _as_date(value)
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> str:
        return NOT_KNOWN if value is None else super().format_field(value, format_spec)


def _as_date(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return f"{moment.day} {moment:%B %Y}"


_FORMAT = _AnswerFormatter()


class _Blank(dict[str, Any]):
    """Slot values for the answers that are not ``found``: a slot without a value reads as
    nothing rather than failing the answer."""

    def __missing__(self, key: str) -> str:
        return ""


def word(template: str, values: Mapping[str, Any]) -> str:
    """A template filled from ``values``; raises KeyError naming a field that is missing."""
    return _FORMAT.vformat(template, (), values)


def answer_text(spec: ActionSpec, outcome: Outcome, slots: Mapping[str, str]) -> str:
    """The action's answer for an outcome other than ``found``, worded with the slots (one the
    slots lack reads as nothing): for a caller that decides the outcome itself, such as
    ``not_allowed`` for a write without a verified customer."""
    if outcome is Outcome.FOUND:
        raise ValueError("the found answer is worded from the API's JSON: run the action")
    return word(getattr(spec.answers, outcome.value), _Blank(slots))


class ActionRunner:
    """Runs actions against one company API (``base_url``), with its token and its circuit
    breaker. Thread-safe: any number of worker threads may call ``run`` at once."""

    def __init__(
        self,
        base_url: str,
        api_token: str,
        failures_to_open: int = 3,
        open_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = api_token
        self.breaker = CircuitBreaker(failures_to_open, open_seconds, clock)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None  # made and used on the loop's thread
        self._closed = False

    def __repr__(self) -> str:  # the token stays out of any log line that shows the runner
        return f"ActionRunner({self.base_url!r}, circuit {self.breaker.state})"

    def run(
        self,
        spec: ActionSpec,
        slots: Mapping[str, str],
        customer_id: str | None,
        idempotency_key: str | None = None,
    ) -> ActionResult:
        """Call the action's API with the customer's slot values and word the answer.

        ``customer_id`` is the verified customer's id, sent as ``X-Customer-Id``; an action
        that writes, or whose call needs ``{customer_id}``, is ``not_allowed`` without it.
        ``idempotency_key`` goes out as ``Idempotency-Key``, so a write sent twice happens once.
        Never raises for what the API does; waits at most the action's time budget."""
        started = time.perf_counter()
        prepared = self._prepare(spec, slots, customer_id, idempotency_key)
        result = self._wait(spec, prepared) if isinstance(prepared, _Request) else prepared
        latency_ms = (time.perf_counter() - started) * 1000
        result = dataclasses.replace(result, latency_ms=latency_ms)
        logger.info(
            "action %s: %s (status %s, %.0f ms)%s",
            spec.name,
            result.outcome.value,
            result.status_code,
            latency_ms,
            f": {result.error}" if result.error else "",
        )
        return result

    def close(self) -> None:
        """Close the HTTP client and stop the loop's thread; later runs fail at once."""
        with self._lock:
            self._closed = True
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shut_down(), loop).result(timeout=5)
        except (concurrent.futures.TimeoutError, RuntimeError):
            logger.warning("the action runner's loop did not shut down cleanly")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if not thread.is_alive():
            loop.close()

    # -- the calling thread ---------------------------------------------------------------

    def _prepare(
        self,
        spec: ActionSpec,
        slots: Mapping[str, str],
        customer_id: str | None,
        idempotency_key: str | None,
    ) -> _Request | ActionResult:
        """The request to send, or the result when there is nothing to send."""
        values: dict[str, str] = {}
        for slot in spec.slots:
            value = slot.parse(slots.get(slot.name) or "")
            if value is None:
                error = f"slot {slot.name!r} not valid"
                return unanswered(spec, Outcome.FAILED, values, error=error)
            values[slot.name] = value
        if not customer_id and (spec.writes or spec.uses_customer_id):
            return unanswered(spec, Outcome.NOT_ALLOWED, values, error="needs a verified customer")
        filled = {**values, CUSTOMER_ID: customer_id or ""}
        in_path = {name: quote(value, safe="") for name, value in filled.items()}
        headers = {"Accept": "application/json"}
        headers |= {
            name: v.format_map({SECRET: self._token}) for name, v in spec.call.headers.items()
        }
        if customer_id:
            headers["X-Customer-Id"] = customer_id
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        body = None
        if spec.call.body is not None:
            body = {
                key: v.format_map(filled) if isinstance(v, str) else v
                for key, v in spec.call.body.items()
            }
        url = self.base_url + spec.call.path.format_map(in_path)
        return _Request(spec.call.method, url, headers, body, values)

    def _wait(self, spec: ActionSpec, request: _Request) -> ActionResult:
        loop = self._running_loop()
        if loop is None:
            return unanswered(spec, Outcome.FAILED, request.values, error="runner closed")
        budget = spec.call.budget_s + GRACE_S
        future = asyncio.run_coroutine_threadsafe(self._call(spec, request), loop)
        try:
            return future.result(timeout=budget)
        except concurrent.futures.TimeoutError:
            future.cancel()
            error = f"no answer within the time budget ({budget:g} s)"
            return unanswered(spec, Outcome.FAILED, request.values, error=error)
        except concurrent.futures.CancelledError:
            return unanswered(spec, Outcome.FAILED, request.values, error="runner closed")
        except Exception as error:  # a fault of ours must cost the customer one answer, no more
            logger.exception("action %s: the run failed", spec.name)
            return unanswered(spec, Outcome.FAILED, request.values, error=type(error).__name__)

    def _running_loop(self) -> asyncio.AbstractEventLoop | None:
        with self._lock:
            if self._closed:
                return None
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="cxagent-actions", daemon=True
                )
                self._thread.start()
            return self._loop

    # -- the loop's thread ----------------------------------------------------------------

    async def _call(self, spec: ActionSpec, request: _Request) -> ActionResult:
        if not self.breaker.admit():
            return unanswered(spec, Outcome.FAILED, request.values, error="circuit open")
        healthy = False
        try:
            reply = await self._send_with_retries(spec, request)
            result, healthy = _interpret(spec, request, reply)
            return result
        finally:
            # A run given up on (cancelled) counts as a failure, like a timeout.
            self.breaker.record(healthy)

    async def _send_with_retries(self, spec: ActionSpec, request: _Request) -> _Reply:
        retries = spec.call.retries if request.method == "GET" else 0
        reply = await self._send(spec, request)
        for pause in backoffs(retries):
            if not reply.retryable:
                break
            await asyncio.sleep(pause)
            reply = await self._send(spec, request)
        return reply

    async def _send(self, spec: ActionSpec, request: _Request) -> _Reply:
        if self._client is None:
            # The company's API is reached directly: proxies come from settings, not the
            # environment, and redirects are not followed with the token on.
            self._client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        timeout = spec.call.timeout_s
        try:
            # httpx's timeout bounds each phase; this bounds the whole try.
            async with asyncio.timeout(timeout):
                response = await self._client.request(
                    request.method,
                    request.url,
                    headers=request.headers,
                    json=request.body,
                    timeout=timeout,
                )
        except (TimeoutError, httpx.TimeoutException):
            return _Reply(None, f"timed out after {timeout:g} s")
        except httpx.HTTPError as error:
            return _Reply(None, f"{type(error).__name__}: the API could not be reached")
        return _Reply(response)

    async def _shut_down(self) -> None:
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The body as a JSON object ({} when empty), or None when it is not one."""
    if not response.content.strip():
        return {}
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _interpret(spec: ActionSpec, request: _Request, reply: _Reply) -> tuple[ActionResult, bool]:
    """The result, and whether the API worked (for the circuit breaker): a 404 is the API
    working; a 5xx, a refusal of our call (401, 429, …) or nonsense for JSON is not."""
    response = reply.response
    if response is None:
        return unanswered(spec, Outcome.FAILED, request.values, error=reply.error), False
    status = response.status_code
    if status in _NOT_FOUND:
        return unanswered(spec, Outcome.NOT_FOUND, request.values, status), True
    if status in _NOT_ALLOWED:
        # The refusal's JSON may say why (the demo shop's `code`); the caller may use it.
        refusal = unanswered(spec, Outcome.NOT_ALLOWED, request.values, status)
        return dataclasses.replace(refusal, data=_json_object(response) or {}), True
    if not 200 <= status < 300:
        return unanswered(spec, Outcome.FAILED, request.values, status, f"HTTP {status}"), False
    data = _json_object(response)
    if data is None:
        error = "the answer is not a JSON object"
        return unanswered(spec, Outcome.FAILED, request.values, status, error), False
    try:
        # The API's own values win: it spells the order number as it stores it.
        text = word(spec.answers.found_template(data), {**request.values, **data})
    except KeyError as error:
        problem = f"answers.found: the API's answer has no {error}"
        return unanswered(spec, Outcome.FAILED, request.values, status, problem), True
    except (ValueError, TypeError) as error:
        problem = f"answers.found: cannot word the answer ({type(error).__name__})"
        return unanswered(spec, Outcome.FAILED, request.values, status, problem), True
    return ActionResult(spec.name, Outcome.FOUND, text, data, status), True


def unanswered(
    spec: ActionSpec,
    outcome: Outcome,
    values: Mapping[str, str],
    status_code: int | None = None,
    error: str | None = None,
) -> ActionResult:
    """A result without data, worded with the outcome's own answer: a call that did not find,
    failed or was refused, or one never made (a customer nobody vouched for)."""
    return ActionResult(
        spec.name, outcome, answer_text(spec, outcome, values), {}, status_code, error=error
    )
