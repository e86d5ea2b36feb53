"""The staff API behind the console: log in, the queue, a conversation with everything the bot
read and every action it ran, take over, reply, hand back, close, correct an intent, look
something up in the company's systems for the customer; admins manage accounts. Every route
but log-in needs a staff token; a customer's token opens none of them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, WebSocket, status
from starlette.concurrency import run_in_threadpool

from bot.analytics.satisfaction import EMPTY
from bot.api.deps import (
    AlertsDep,
    DashboardDep,
    EventsDep,
    RowId,
    SatisfactionDep,
    SocketTokenDep,
    StaffDep,
    StaffServiceDep,
    StaffTokenDep,
    SuggestionsDep,
    SupportDep,
    get_staff_member,
)
from bot.api.limits import RateLimitsDep, limit_logins
from bot.api.live import LockedSocket, refuse, serve_live
from bot.api.openapi import errors
from bot.api.schemas import StaffMessageOut
from bot.api.socket_auth import closed_on_event
from bot.api.staff_schemas import (
    AccountChangeIn,
    AccountIn,
    ConversationDetailOut,
    DashboardOut,
    IntentCorrectionIn,
    LoginIn,
    LoginOut,
    LookupIn,
    LookupOut,
    LookupResultOut,
    QueueItemOut,
    ReplyIn,
    SatisfactionOut,
    SentimentAlertOut,
    StaffOut,
    SurveyFiguresOut,
)
from bot.conversation.states import Status
from bot.errors import ServiceError
from bot.live.events import STAFF_TOPIC
from bot.support.accounts import session_topic
from bot.support.suggestions import StartedFrom, SuggestionUse

# Logging in, and the socket (which shows its token in a header of its own), are open to
# anyone; every other route is on `router`, which demands a staff token before the route runs.
# Routes that act as the member still name it (StaffDep): FastAPI resolves it once per request.
public_router = APIRouter(prefix="/api/staff", tags=["staff"], responses=errors(401, 503))
router = APIRouter(
    prefix="/api/staff",
    tags=["staff"],
    dependencies=[Depends(get_staff_member)],
    responses=errors(401, 503),
)


@public_router.post(
    "/login",
    response_model=LoginOut,
    dependencies=[Depends(limit_logins)],
    responses=errors(422, 429),
)
def log_in(body: LoginIn, staff: StaffServiceDep, limits: RateLimitsDep) -> LoginOut:
    """429 with Retry-After beyond the attempts one address may make, and while the account is
    locked out after too many wrong passwords (even with the right one)."""
    with limits.login_attempt(body.username):
        logged_in = staff.log_in(body.username, body.password)
    return LoginOut(token=logged_in.token, staff=StaffOut.model_validate(logged_in.member))


@public_router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    # A token that is unknown or has expired is a 401, as on every route that needs one.
    dependencies=[Depends(get_staff_member)],
)
def log_out(token: StaffTokenDep, staff: StaffServiceDep) -> None:
    """The token ends, and the live sockets opened with it close with 4401."""
    staff.log_out(token)


@router.get("/me", response_model=StaffOut)
def me(member: StaffDep) -> StaffOut:
    return StaffOut.model_validate(member)


@router.get("/accounts", response_model=list[StaffOut], responses=errors(403))
def accounts(member: StaffDep, staff: StaffServiceDep) -> list[StaffOut]:
    return [StaffOut.model_validate(account) for account in staff.accounts(member)]


@router.post(
    "/accounts",
    response_model=StaffOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 409, 422),
)
def create_account(body: AccountIn, member: StaffDep, staff: StaffServiceDep) -> StaffOut:
    created = staff.create_account(body.username, body.password, body.role, body.name, by=member)
    return StaffOut.model_validate(created)


@router.patch("/accounts/{staff_id}", response_model=StaffOut, responses=errors(403, 404, 409, 422))
def change_account(
    staff_id: RowId, body: AccountChangeIn, member: StaffDep, staff: StaffServiceDep
) -> StaffOut:
    """Deactivate or reactivate an account (admins), or set a password: your own with
    ``current_password``; an admin resets another's without it (on record, and that person's
    sessions end)."""
    changed = member
    if body.password is not None:
        changed = staff.set_password(
            staff_id, body.password, by=member, current_password=body.current_password
        )
    if body.active is not None:
        changed = staff.set_active(staff_id, body.active, by=member)
    return StaffOut.model_validate(changed)


@router.get("/queue", response_model=list[QueueItemOut], responses=errors(422))
def queue(
    member: StaffDep,
    support: SupportDep,
    status_in: Annotated[list[Status] | None, Query(alias="status")] = None,
    queue: str | None = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[QueueItemOut]:
    """Escalated conversations (waiting and with a person, unless ``status`` says otherwise):
    high-value customers first, then the most urgent, then the newest."""
    statuses = tuple(status_in) if status_in else (Status.WAITING, Status.WITH_AGENT)
    items = support.queue(member, statuses, queue=queue, mine=mine, limit=limit)
    return [QueueItemOut.model_validate(item) for item in items]


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationDetailOut,
    responses=errors(404),
)
def conversation(
    conversation_id: str, member: StaffDep, support: SupportDep
) -> ConversationDetailOut:
    return ConversationDetailOut.model_validate(support.conversation(member, conversation_id))


@router.post(
    "/conversations/{conversation_id}/take",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404, 409),
)
def take(conversation_id: str, member: StaffDep, support: SupportDep) -> None:
    support.take(member, conversation_id)


@router.post(
    "/conversations/{conversation_id}/messages",
    response_model=StaffMessageOut,
    responses=errors(403, 404, 422),
)
def reply(
    conversation_id: str,
    body: ReplyIn,
    member: StaffDep,
    support: SupportDep,
    suggestions: SuggestionsDep,
) -> StaffMessageOut:
    """With ``suggestions``, what became of the suggested replies shown is recorded with the
    reply: the one it started from used or edited, the others ignored (422 for a message that
    is not one of this conversation's customer messages, or an entry the base does not hold)."""
    if body.suggestions is None:
        return StaffMessageOut.model_validate(support.reply(member, conversation_id, body.text))
    use = SuggestionUse(
        message_id=body.suggestions.message_id,
        shown=tuple(body.suggestions.shown),
        entry_id=body.suggestions.entry_id,
        started_from=StartedFrom(body.suggestions.outcome),
    )
    return StaffMessageOut.model_validate(
        suggestions.reply(member, conversation_id, body.text, use)
    )


@router.post(
    "/conversations/{conversation_id}/hand-back",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(403, 404, 409),
)
def hand_back(conversation_id: str, member: StaffDep, support: SupportDep) -> None:
    support.hand_back(member, conversation_id)


@router.post(
    "/conversations/{conversation_id}/close",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(403, 404, 409),
)
def close(conversation_id: str, member: StaffDep, support: SupportDep) -> None:
    support.close(member, conversation_id)


@router.post(
    "/conversations/{conversation_id}/typing",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(403, 404),
)
def typing(conversation_id: str, member: StaffDep, support: SupportDep) -> None:
    """Show the customer that the person who has their conversation is writing."""
    support.typing(member, conversation_id)


@router.get("/lookups", response_model=list[LookupOut])
def lookups(support: SupportDep) -> list[LookupOut]:
    """The read actions an agent may run for the customer of a conversation they hold."""
    return [LookupOut.model_validate(lookup) for lookup in support.lookups()]


@router.post(
    "/conversations/{conversation_id}/lookups",
    response_model=LookupResultOut,
    responses=errors(403, 404, 422),
)
def lookup(
    conversation_id: str, body: LookupIn, member: StaffDep, support: SupportDep
) -> LookupResultOut:
    """Run a read action (``GET /api/staff/lookups``) for the conversation's customer, as the
    bot would: the company's API is given the customer id the site signed or the customer
    proved, and without one the answer is ``not_allowed`` and nothing is called. The answer is
    the agent's alone (the customer sees nothing) and the call is recorded. A write, an unknown
    action or a missing slot is 422; a conversation the agent does not hold, 403."""
    result = support.lookup(member, conversation_id, body.action, body.slots)
    return LookupResultOut.model_validate(result)


@router.get("/intents", response_model=list[str])
def intents(support: SupportDep) -> list[str]:
    """The intents a correction may name: the model's and the knowledge base's."""
    return sorted(support.known_intents)


@router.put(
    "/messages/{message_id}/intent",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404, 422),
)
def correct_intent(
    message_id: RowId, body: IntentCorrectionIn, member: StaffDep, support: SupportDep
) -> None:
    support.correct_intent(member, message_id, body.intent)


@router.get("/satisfaction", response_model=SatisfactionOut, responses=errors(422))
def satisfaction(
    service: SatisfactionDep,
    by: Literal["day", "intent", "channel", "segment"] = "day",
    since: datetime | None = None,
    until: datetime | None = None,
) -> SatisfactionOut:
    """Survey figures (CSAT, NPS, CES) overall and by day, main intent, channel or segment, and
    the model that predicts satisfaction for unrated conversations."""
    overall = service.aggregates("all", since, until)
    model = service.model()
    return SatisfactionOut(
        overall=SurveyFiguresOut(**(overall[0] if overall else {"group": "all", **EMPTY})),
        by=by,
        groups=[SurveyFiguresOut(**group) for group in service.aggregates(by, since, until)],
        model={
            "weights": model.weights,
            "fitted_at": model.fitted_at,
            "agreement": model.metrics,
        },
    )


@router.get("/dashboard", response_model=DashboardOut, responses=errors(422))
def dashboard(
    dashboard: DashboardDep, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> DashboardOut:
    """The last ``days`` days: satisfaction, resolution without a person, escalations by reason,
    sentiment, top intents and the questions the bot could not answer."""
    return DashboardOut.model_validate(dashboard.figures(days))


@public_router.websocket("/ws")
async def staff_socket(
    websocket: WebSocket, token: SocketTokenDep, staff: StaffServiceDep, events: EventsDep
) -> None:
    """``{"type": "conversation", "conversation_id": …, "change": …}`` whenever a conversation
    in the queue changes. The token comes as the subprotocol ``token.<token>`` (see
    bot/api/socket_auth.py). A bad token, a log-out or a deactivation closes the socket with
    code 4401."""
    async with closed_on_event(
        websocket, events, session_topic(token), "the staff session has ended"
    ):
        try:
            await run_in_threadpool(staff.authenticate, token)
        except ServiceError as error:
            await refuse(websocket, error)
            return
        await serve_live(websocket, events, STAFF_TOPIC, _no_frames)


async def _no_frames(socket: LockedSocket, _: str) -> None:
    """The console sends nothing; a client that does hears so, and the socket stays open."""
    await socket.send_json({"type": "error", "detail": "the staff socket sends events only"})


@router.get("/alerts/sentiment", response_model=SentimentAlertOut)
def sentiment_alert(alerts: AlertsDep) -> SentimentAlertOut:
    """Whether negative sentiment across all traffic is well above its recent level."""
    return SentimentAlertOut.model_validate(alerts.negative_sentiment())
