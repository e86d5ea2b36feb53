"""Dependencies routes declare in their signatures: each service a route uses, by its type,
and the credentials it needs. Tests override ``get_runtime`` or build the app on a runtime.

What only reads the app's state is ``async def``: FastAPI runs a plain ``def`` dependency on a
worker thread, and a chat turn paid a thread hop for each of them (with 40 threads busy under
load, each hop waits for the GIL and a free thread). Whatever touches the database or Redis
stays ``def``, off the event loop."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from bot.analytics.alerts import AlertService
from bot.analytics.dashboard import DashboardService
from bot.analytics.satisfaction import SatisfactionService
from bot.api.socket_auth import socket_token
from bot.conversation.service import ChatService
from bot.live.events import EventHub
from bot.runtime import Runtime
from bot.support.accounts import StaffMember, StaffService
from bot.support.service import SupportService
from bot.support.suggestions import SuggestionService

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="CustomerToken",
    description="The customer token of the conversation",
)
_staff_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="StaffToken",
    description="A staff token from /api/staff/login",
)


async def get_runtime(connection: HTTPConnection) -> Runtime:
    """The running service's parts; HTTP requests and WebSockets alike."""
    runtime: Runtime = connection.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_chat(runtime: RuntimeDep) -> ChatService:
    return runtime.chat


async def get_support(runtime: RuntimeDep) -> SupportService:
    return runtime.support


async def get_suggestions(runtime: RuntimeDep) -> SuggestionService:
    # Made for each request from the runtime's services, which it only holds (no state of its
    # own): it reads with whatever chat service and knowledge base the runtime serves now.
    return SuggestionService(sessions=runtime.sessions, chat=runtime.chat, support=runtime.support)


async def get_staff_service(runtime: RuntimeDep) -> StaffService:
    return runtime.staff


async def get_satisfaction(runtime: RuntimeDep) -> SatisfactionService:
    return runtime.satisfaction


async def get_dashboard(runtime: RuntimeDep) -> DashboardService:
    return runtime.dashboard


async def get_alerts(runtime: RuntimeDep) -> AlertService:
    return runtime.alerts


async def get_events(runtime: RuntimeDep) -> EventHub:
    return runtime.events


async def get_customer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "send the conversation's customer token as `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials.credentials


async def get_staff_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_staff_bearer)],
) -> str:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "log in at /api/staff/login and send the token as `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials.credentials


StaffTokenDep = Annotated[str, Depends(get_staff_token)]
StaffServiceDep = Annotated[StaffService, Depends(get_staff_service)]


def get_staff_member(token: StaffTokenDep, staff: StaffServiceDep) -> StaffMember:
    return staff.authenticate(token)


ChatDep = Annotated[ChatService, Depends(get_chat)]
CustomerTokenDep = Annotated[str, Depends(get_customer_token)]
SupportDep = Annotated[SupportService, Depends(get_support)]
SuggestionsDep = Annotated[SuggestionService, Depends(get_suggestions)]
SatisfactionDep = Annotated[SatisfactionService, Depends(get_satisfaction)]
DashboardDep = Annotated[DashboardService, Depends(get_dashboard)]
AlertsDep = Annotated[AlertService, Depends(get_alerts)]
EventsDep = Annotated[EventHub, Depends(get_events)]
StaffDep = Annotated[StaffMember, Depends(get_staff_member)]
SocketTokenDep = Annotated[str, Depends(socket_token)]
# A database id in a path. The tables' ids are INTEGER, a signed 32-bit number in PostgreSQL:
# a larger one cannot exist, and the database would fail on it (a 500) rather than find nothing.
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
