"""Brightcart's own HTTP API: the orders the bot looks up and changes, as a real shop's would be.

Every request carries `Authorization: Bearer <api token>`. Order routes act on behalf of the
customer named by `X-Customer-Id`, and the API enforces that itself: another customer's order is
answered exactly like an unknown one. Writes need an `Idempotency-Key`; a resend with the same
key gets the first answer again (header `Idempotent-Replayed: true`) and changes nothing.

    GET  /orders/{order_id}                    200 order
    GET  /orders/{order_id}/refund             200 {order_id, refund | null}
    GET  /orders/{order_id}/return             200 {order_id, return | null}
    GET  /customers/{customer_id}/orders       200 {customer, orders (newest first)}
    POST /orders/{order_id}/cancel             200 order | 409 {detail, code}
    POST /orders/{order_id}/returns {sku}      201 order | 409 {detail, code}
    PUT  /orders/{order_id}/address {lines, city, postcode}   200 order | 409 {detail, code}
    POST /verify {order_id, email}             200 {customer_id} | 404

Errors: 401 without the token; 400 without X-Customer-Id (order routes) or Idempotency-Key
(writes); 404 unknown or not yours; 422 a malformed order id or body, or a key reused for
another request.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse

from bot.demo_shop.schemas import (
    Address,
    CustomerOrders,
    Order,
    RefundOut,
    ReturnIn,
    ReturnOut,
    Verified,
    VerifyIn,
    check_order_id,
)
from bot.demo_shop.store import (
    Clock,
    KeyReused,
    NotFound,
    Outcome,
    ShopStore,
    day_clock,
    load_seed,
)


def create_shop_app(
    data_file: Path, db_path: Path, api_token: str, *, clock: Clock | None = None
) -> FastAPI:
    """The API over `db_path`, seeded from `data_file` the first time.

    `clock` defaults to the data's own `today` (see `store.day_clock`); tests pass a fixed one.
    """
    if not api_token:
        raise ValueError("the demo shop needs an API token: an empty one would let anyone in")
    seed = load_seed(data_file)
    store = ShopStore(db_path, clock or day_clock(seed.today))
    store.seed(seed)

    app = FastAPI(title="Brightcart shop API (demo)", docs_url=None, redoc_url=None)
    app.state.store = store
    app.state.api_token = api_token
    app.include_router(_router)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(KeyReused, _key_reused)
    return app


# ----------------------------------------------------------------------------- dependencies


def _authorised(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    expected = f"Bearer {request.app.state.api_token}".encode()
    # compare_digest: the time taken says nothing about how much of a guess was right.
    if authorization is None or not secrets.compare_digest(authorization.encode(), expected):
        raise HTTPException(
            401,
            "a valid 'Authorization: Bearer <token>' is required",
            {"WWW-Authenticate": "Bearer"},
        )


def _store(request: Request) -> ShopStore:
    store: ShopStore = request.app.state.store
    return store


def _customer(x_customer_id: Annotated[str | None, Header()] = None) -> str:
    if not x_customer_id:
        raise HTTPException(400, "X-Customer-Id is required: the customer this request acts for")
    return x_customer_id


def _key(idempotency_key: Annotated[str | None, Header()] = None) -> str:
    if not idempotency_key or len(idempotency_key) > 200:
        raise HTTPException(
            400, "Idempotency-Key is required (up to 200 characters): one per intended change"
        )
    return idempotency_key


def _order_id(order_id: str) -> str:
    try:
        return check_order_id(order_id)
    except ValueError as error:
        raise HTTPException(422, str(error)) from error


Store = Annotated[ShopStore, Depends(_store)]
CustomerId = Annotated[str, Depends(_customer)]
IdempotencyKey = Annotated[str, Depends(_key)]
OrderId = Annotated[str, Depends(_order_id)]

_router = APIRouter(dependencies=[Depends(_authorised)])


# ----------------------------------------------------------------------------------- reads


@_router.get("/orders/{order_id}")
def get_order(order_id: OrderId, customer: CustomerId, store: Store) -> Order:
    return store.order(order_id, customer)


@_router.get("/orders/{order_id}/refund")
def get_refund(order_id: OrderId, customer: CustomerId, store: Store) -> RefundOut:
    return RefundOut(order_id=order_id, refund=store.order(order_id, customer).refund)


@_router.get("/orders/{order_id}/return")
def get_return(order_id: OrderId, customer: CustomerId, store: Store) -> ReturnOut:
    return ReturnOut(order_id=order_id, return_=store.order(order_id, customer).return_)


@_router.get("/customers/{customer_id}/orders")
def get_customer_orders(customer_id: str, customer: CustomerId, store: Store) -> CustomerOrders:
    return store.customer_orders(customer_id, acting_for=customer)


@_router.post("/verify")
def verify(body: VerifyIn, store: Store) -> Verified:
    """How an anonymous visitor proves who they are: an order number and its e-mail."""
    return Verified(customer_id=store.verify(body.order_id, body.email))


# ---------------------------------------------------------------------------------- writes


@_router.post("/orders/{order_id}/cancel")
def cancel(
    order_id: OrderId, customer: CustomerId, key: IdempotencyKey, store: Store
) -> JSONResponse:
    return _answer(store.cancel(order_id, customer, key))


@_router.post("/orders/{order_id}/returns")
def start_return(
    order_id: OrderId, body: ReturnIn, customer: CustomerId, key: IdempotencyKey, store: Store
) -> JSONResponse:
    return _answer(store.start_return(order_id, customer, key, body.sku))


@_router.put("/orders/{order_id}/address")
def change_address(
    order_id: OrderId, body: Address, customer: CustomerId, key: IdempotencyKey, store: Store
) -> JSONResponse:
    return _answer(store.change_address(order_id, customer, key, body))


def _answer(outcome: Outcome) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


# ---------------------------------------------------------------------------------- errors


async def _not_found(_request: Request, error: Exception) -> JSONResponse:
    # The same body for "no such order" and "not yours": the caller learns nothing more.
    return JSONResponse({"detail": str(error)}, status_code=404)


async def _key_reused(_request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=422)
