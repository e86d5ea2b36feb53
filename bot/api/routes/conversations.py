"""Customers' conversations: start one, send a message, read the transcript, or chat over a
WebSocket."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from anyio import from_thread
from fastapi import APIRouter, Depends, HTTPException, Request, WebSocket, status
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from bot.analytics.satisfaction import SurveyAnswers
from bot.api.admission import TurnsInFlight, TurnsInFlightDep, TurnSlot
from bot.api.deps import ChatDep, CustomerTokenDep, EventsDep, SatisfactionDep, SocketTokenDep
from bot.api.errors import RETRY_AFTER_SECONDS, UNAVAILABLE, unavailable
from bot.api.limits import (
    RateLimits,
    RateLimitsDep,
    limit_conversation_starts,
    limit_messages,
)
from bot.api.live import LockedSocket, refuse, serve_live
from bot.api.openapi import errors
from bot.api.schemas import (
    MessageIn,
    StartConversationIn,
    StartConversationOut,
    SurveyIn,
    TranscriptOut,
    TurnOut,
)
from bot.conversation.identity import CustomerIdentity
from bot.conversation.service import ChatService, Turn
from bot.errors import ServiceError
from bot.live.events import conversation_topic
from bot.messages import customer_view

router = APIRouter(prefix="/api/conversations", tags=["conversations"], responses=errors(401, 503))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=StartConversationOut,
    dependencies=[Depends(limit_conversation_starts)],
    responses=errors(422, 429),
)
def start_conversation(body: StartConversationIn, chat: ChatDep) -> StartConversationOut:
    identity = CustomerIdentity(body.identity_token, body.customer.name, body.customer.email)
    started = chat.start_conversation(identity, channel=body.channel)
    return StartConversationOut(
        conversation_id=started.conversation_id,
        customer_id=started.customer_id,
        customer_token=started.customer_token,
    )


# How long a REST turn may wait for its worker thread before its client is asked whether it is
# still there (see send_message).
WAITED_SECONDS = 0.05


@router.post(
    "/{conversation_id}/messages",
    response_model=TurnOut,
    responses=errors(403, 404, 422, 429),
)
async def send_message(
    conversation_id: str,
    body: MessageIn,
    chat: ChatDep,
    token: CustomerTokenDep,
    request: Request,
    limits: RateLimitsDep,
    turns: TurnsInFlightDep,
) -> TurnOut:
    # Async, with the turn on a worker thread of its own making: FastAPI runs a sync route on one
    # worker thread and then checks its answer against response_model on another, two round
    # trips between threads where one does.
    arrived = time.monotonic()

    def take_turn(slot: TurnSlot) -> TurnOut:
        waited = time.monotonic() - arrived

        def gone() -> bool:
            # Only a turn that waited for its thread can have lost its client meanwhile. Asking
            # takes a hop to the event loop (the connection's state is its) and back, and a
            # cancel scope there: a twentieth of a lone customer's turn.
            return waited >= WAITED_SECONDS and bool(from_thread.run(request.is_disconnected))

        turn = _limited_turn(request, chat, limits, conversation_id, token, body, gone)
        slot.company_seconds = turn.company_seconds
        return TurnOut.model_validate(turn)

    # The turn bound first, on arrival: a turn refused takes no worker thread. A client over its
    # own limit is refused either way.
    with turns.admitted() as slot:
        return await run_in_threadpool(take_turn, slot)


def _limited_turn(
    connection: HTTPConnection,
    chat: ChatService,
    limits: RateLimits,
    conversation_id: str,
    token: str,
    body: MessageIn,
    gone: Callable[[], bool] | None = None,
) -> Turn:
    """A chat turn on its worker thread, over REST and the socket alike: the rate limits first
    (their counter may be Redis, so they block, and on a thread of their own they were a second
    hop), then the turn (see ChatService.post_message for ``gone``)."""
    limit_messages(connection, conversation_id, token, limits)
    return chat.post_message(conversation_id, token, body.text, body.client_message_id, gone)


@router.get("/{conversation_id}/messages", response_model=TranscriptOut, responses=errors(403, 404))
def read_transcript(conversation_id: str, chat: ChatDep, token: CustomerTokenDep) -> TranscriptOut:
    return TranscriptOut.model_validate(chat.transcript(conversation_id, token))


@router.post(
    "/{conversation_id}/end",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(403, 404),
)
def end_conversation(conversation_id: str, chat: ChatDep, token: CustomerTokenDep) -> None:
    """The customer ends the chat: it is closed and leaves the people's queue. Writing again
    opens it with the bot."""
    chat.end(conversation_id, token)


@router.post(
    "/{conversation_id}/survey",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(403, 404, 409, 422),
)
def answer_survey(
    conversation_id: str,
    body: SurveyIn,
    chat: ChatDep,
    token: CustomerTokenDep,
    satisfaction: SatisfactionDep,
) -> None:
    """The post-chat survey: CSAT, NPS, CES and a comment, each optional; once per conversation."""
    chat.check_access(conversation_id, token)
    satisfaction.answer_survey(conversation_id, SurveyAnswers(**body.model_dump()))


@router.websocket("/{conversation_id}/ws")
async def chat_socket(
    websocket: WebSocket,
    conversation_id: str,
    token: SocketTokenDep,
    chat: ChatDep,
    events: EventsDep,
    limits: RateLimitsDep,
    turns: TurnsInFlightDep,
) -> None:
    """Send ``{"type": "message", "text": …, "client_message_id": …}``; receive an ``ack`` with
    the stored message, then the ``reply`` (none while a person has the conversation). What
    others do arrives as it happens: a person's ``message``, ``typing``, a new ``status``.
    Problems with one message come back as ``error`` frames and the connection stays open. A
    wrong token or conversation closes the socket with code 4403 or 4404 (4000 + the HTTP
    status). The frames are listed in docs/live-api.md."""
    try:
        await run_in_threadpool(chat.check_access, conversation_id, token)
    except ServiceError as error:
        await refuse(websocket, error)
        return

    async def answer(socket: LockedSocket, frame: str) -> None:
        await _answer_frame(socket, chat, turns, limits, conversation_id, token, frame)

    await serve_live(websocket, events, conversation_topic(conversation_id), answer)


async def _answer_frame(
    websocket: LockedSocket,
    chat: ChatService,
    turns: TurnsInFlight,
    limits: RateLimits,
    conversation_id: str,
    token: str,
    frame: str,
) -> None:
    try:
        data = json.loads(frame)
    except json.JSONDecodeError as error:
        await websocket.send_json({"type": "error", "detail": f"malformed JSON: {error.msg}"})
        return
    except RecursionError:
        await websocket.send_json({"type": "error", "detail": "malformed JSON: nested too deeply"})
        return
    client_message_id = data.get("client_message_id") if isinstance(data, dict) else None
    try:
        await _take_frame(websocket, chat, turns, limits, conversation_id, token, data)
    except HTTPException as error:  # beyond the rate limits (bot.api.limits.too_many)
        seconds = int(error.headers["Retry-After"]) if error.headers else None
        await _refuse_frame(websocket, str(error.detail), client_message_id, seconds)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        await _refuse_frame(websocket, problems, client_message_id)
    except ServiceError as error:
        await _refuse_frame(websocket, str(error), client_message_id)
    except UNAVAILABLE as error:
        # Rolled back or refused on arrival, nothing stored: the client sends it again, on this
        # socket, after retry_after seconds.
        await _refuse_frame(
            websocket, unavailable(error) or str(error), client_message_id, RETRY_AFTER_SECONDS
        )


async def _take_frame(
    websocket: LockedSocket,
    chat: ChatService,
    turns: TurnsInFlight,
    limits: RateLimits,
    conversation_id: str,
    token: str,
    data: object,
) -> None:
    if isinstance(data, dict) and data.get("type") == "typing":
        await run_in_threadpool(chat.customer_typing, conversation_id)
        return
    if not isinstance(data, dict) or data.get("type") != "message":
        await websocket.send_json(
            {"type": "error", "detail": 'expected {"type": "message", "text": "…"}'}
        )
        return
    body = MessageIn.model_validate({k: v for k, v in data.items() if k != "type"})
    with turns.admitted() as slot:
        turn = await run_in_threadpool(
            _limited_turn, websocket.websocket, chat, limits, conversation_id, token, body
        )
        slot.company_seconds = turn.company_seconds
    await websocket.send_json({"type": "ack", "message": customer_view(turn.message)})
    if turn.reply is not None:
        await websocket.send_json({"type": "reply", "message": customer_view(turn.reply)})


async def _refuse_frame(
    websocket: LockedSocket,
    detail: str,
    client_message_id: object,
    retry_after: int | None = None,
) -> None:
    """The message was not stored: say why, naming it by the client's id when it had one, and
    with ``retry_after`` when sending it again later will do."""
    frame: dict[str, object] = {
        "type": "error",
        "detail": detail,
        "client_message_id": client_message_id if isinstance(client_message_id, str) else None,
    }
    if retry_after is not None:
        frame["retry_after"] = retry_after
    await websocket.send_json(frame)
