"""What the OpenAPI description says of errors: one model for the service's errors and one for
a 422, each status with the sentence that says when it comes, and Retry-After on 429 and 503.

Routers and routes name the statuses they can give (``responses=errors(401, 503)``); FastAPI
adds its own 422 (``HTTPValidationError``, with an ``input`` this service never returns) to
every route with parameters, so ``describe`` removes it where a route declared none, which
leaves each route with the statuses it can really give. The fuzz test
(tests/bot/api/test_api_fuzz.py) holds the app to what is declared here."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.openapi.constants import REF_PREFIX
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from bot.config import Settings


class ErrorOut(BaseModel):
    """A service error: what was wrong, in one sentence."""

    detail: str = Field(examples=["conversation 'nope' does not exist"])


class ValidationProblemOut(BaseModel):
    """One problem of a request that does not fit its schema (bot/api/validation.py): where,
    which rule, and the rule's limits, never the value sent."""

    type: str = Field(examples=["string_too_long"])
    loc: list[str | int] = Field(description="body, query, path or header, then the field")
    msg: str
    ctx: dict[str, str | int | float | bool] | None = Field(
        None, description="the rule's limits, such as max_length; absent when it has none"
    )


class ValidationErrorOut(BaseModel):
    """A 422: the request's problems as a list when it does not fit the schema, or one sentence
    when the service refuses what it says (an empty message, an unknown intent, …)."""

    detail: list[ValidationProblemOut] | str


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the same request again",
        "schema": {"type": "integer", "minimum": 1},
    }
}

RESPONSES: dict[int, dict[str, Any]] = {
    400: {
        "model": ErrorOut,
        "description": "The body is not text FastAPI can read as JSON (not UTF-8)",
    },
    401: {
        "model": ErrorOut,
        "description": "No credentials, or ones that are not valid (a wrong password, an "
        "expired token, an identity token that fails its check)",
    },
    403: {
        "model": ErrorOut,
        "description": "The credentials are valid but do not allow this (another "
        "conversation's token, an agent where an admin is needed)",
    },
    404: {"model": ErrorOut, "description": "Nothing with that id exists"},
    409: {
        "model": ErrorOut,
        "description": "The request does not fit the current state (a survey answered, a "
        "conversation someone else took, a username taken)",
    },
    422: {
        "model": ValidationErrorOut,
        "description": "The request does not fit its schema, or its content is not allowed; "
        "nothing was stored",
    },
    429: {
        "model": ErrorOut,
        "description": "Too many requests (docs/operating.md); nothing was done",
        "headers": RETRY_AFTER,
    },
    503: {
        "model": ErrorOut,
        "description": "The database is down or every connection is busy; nothing was stored",
        "headers": RETRY_AFTER,
    },
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a router or route that can give these error statuses."""
    return {status: RESPONSES[status] for status in statuses}


# The request texts whose limit is a setting: (schema, property).
MESSAGE_TEXTS = (("MessageIn", "text"), ("ReplyIn", "text"))


def describe(app: FastAPI, settings: Settings) -> None:
    """Make ``app.openapi()`` the description above, with this install's message limit, and
    405s name in Allow every method the description has for the path."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's way to replace it

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
            error.headers = {**(error.headers or {}), "Allow": _allowed(app, request, error)}
        return await http_exception_handler(request, error)


def _allowed(app: FastAPI, request: Request, error: StarletteHTTPException) -> str:
    """The methods of the path: Starlette names only those of the first route that matched it,
    and FastAPI keeps one route per method, so a path's GET and POST are two routes."""
    methods = {m.strip() for m in (error.headers or {}).get("Allow", "").split(",") if m.strip()}
    for template, operations in app.openapi()["paths"].items():
        if compile_path(template)[0].match(request.url.path):
            methods |= {method.upper() for method in operations}
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def build(app: FastAPI, settings: Settings) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    _drop_default_422(schema)
    for operation in _operations(schema):
        responses = operation.setdefault("responses", {})
        if "requestBody" in operation:
            responses.setdefault("400", _as_json(RESPONSES[400]))
        _errors_as_json(responses)
    components = schema.get("components", {}).get("schemas", {})
    for model, field in MESSAGE_TEXTS:
        if model in components:
            text = components[model]["properties"][field]
            text["maxLength"] = settings.max_message_chars
    return schema


def _drop_default_422(schema: dict[str, Any]) -> None:
    """Remove FastAPI's 422 from routes that declared none of their own, and its models once
    nothing refers to them."""
    default = f"{REF_PREFIX}HTTPValidationError"
    for operation in _operations(schema):
        invalid = operation.get("responses", {}).get("422")
        if invalid is not None and _refers_to(invalid, default):
            del operation["responses"]["422"]
    components = schema.get("components", {}).get("schemas", {})
    if not any(_refers_to(op, default) for op in _operations(schema)):
        components.pop("HTTPValidationError", None)
        if not any(_refers_to(c, f"{REF_PREFIX}ValidationError") for c in components.values()):
            components.pop("ValidationError", None)


def _as_json(response: dict[str, Any]) -> dict[str, Any]:
    model = response["model"]
    return {
        "description": response["description"],
        "content": {"application/json": {"schema": {"$ref": f"{REF_PREFIX}{model.__name__}"}}},
    }


def _errors_as_json(responses: dict[str, Any]) -> None:
    """Errors are JSON on every route, also on one that answers plain text (/metrics), where
    FastAPI files them under the route's own media type."""
    for code, response in responses.items():
        content = response.get("content")
        if code[0] in "45" and content and "application/json" not in content:
            response["content"] = {"application/json": next(iter(content.values()))}


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for path in schema.get("paths", {}).values() for op in path.values()]


def _refers_to(node: object, ref: str) -> bool:
    if isinstance(node, dict):
        return node.get("$ref") == ref or any(_refers_to(v, ref) for v in node.values())
    if isinstance(node, list):
        return any(_refers_to(item, ref) for item in node)
    return False
