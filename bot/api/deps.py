"""Dependencies routes declare in their signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.runtime import Runtime
from bot.services.chat import ChatService

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


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
CustomerTokenDep = Annotated[str, Depends(get_customer_token)]
