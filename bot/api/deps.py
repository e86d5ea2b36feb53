"""Dependencies routes declare in their signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.conversation.service import ChatService
from bot.runtime import Runtime
from bot.support.accounts import StaffMember, StaffService
from bot.support.service import SupportService

_bearer = HTTPBearer(auto_error=False, description="The customer token of the conversation")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_chat(request: Request) -> ChatService:
    return get_runtime(request).chat


def get_customer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "send the conversation's customer token as `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials.credentials


_staff_bearer = HTTPBearer(auto_error=False, description="A staff token from /api/staff/login")


def get_staff_service(request: Request) -> StaffService:
    return get_runtime(request).staff


def get_support(request: Request) -> SupportService:
    return get_runtime(request).support


def get_staff_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_staff_bearer)],
) -> str:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "log in at /api/staff/login and send the token as `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials.credentials


def get_staff_member(
    token: Annotated[str, Depends(get_staff_token)],
    staff: Annotated[StaffService, Depends(get_staff_service)],
) -> StaffMember:
    return staff.authenticate(token)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
CustomerTokenDep = Annotated[str, Depends(get_customer_token)]
StaffServiceDep = Annotated[StaffService, Depends(get_staff_service)]
SupportDep = Annotated[SupportService, Depends(get_support)]
StaffTokenDep = Annotated[str, Depends(get_staff_token)]
StaffDep = Annotated[StaffMember, Depends(get_staff_member)]
