"""The demo shop's API over real HTTP: a shop started on a free port, its database in tmp_path.

The orders are the demo's own (data/shop/orders.yaml); the shop's clock is fixed at NOW, the
morning of the data's `today`.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.demo_shop.schemas import OrderStatus
from bot.demo_shop.server import DemoShop, ShopStartError, start_demo_shop
from bot.demo_shop.store import ShopStore, load_seed

DATA_FILE = Path(__file__).resolve().parents[3] / "data" / "shop" / "orders.yaml"
TOKEN = "shop-test-token"
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)

PRIYA = "cust-42"
TOM = "cust-7"
IN_TRANSIT = "BC-204518"  # Priya's, DPD, due 1 December
DELIVERED_RECENTLY = "BC-203749"  # Priya's, delivered 20 November: kettle and mugs
DELIVERED_LONG_AGO = "BC-198244"  # Priya's, delivered 17 September
PLACED = "BC-204857"  # Priya's, placed this morning
TOMS_PROCESSING = "BC-204805"
CANCELLED_AND_REFUNDED = "BC-202225"  # Priya's
UNKNOWN = "BC-999999"


def headers(customer: str | None = PRIYA, key: str | None = None) -> dict[str, str]:
    sent = {}
    if customer is not None:
        sent["X-Customer-Id"] = customer
    if key is not None:
        sent["Idempotency-Key"] = key
    return sent


def start(db_path: Path, now: datetime = NOW) -> DemoShop:
    return start_demo_shop("127.0.0.1", 0, DATA_FILE, db_path, TOKEN, clock=lambda: now)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "shop.db"


@pytest.fixture
def shop(db_path: Path) -> Iterator[DemoShop]:
    running = start(db_path)
    yield running
    running.stop()


def connect(shop: DemoShop) -> httpx.Client:
    return httpx.Client(
        base_url=shop.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5.0
    )


@pytest.fixture
def client(shop: DemoShop) -> Iterator[httpx.Client]:
    with connect(shop) as session:
        yield session


def changes(db_path: Path, order_id: str) -> list[str]:
    return [change.action for change in ShopStore(db_path, lambda: NOW).history(order_id)]


# ------------------------------------------------------------------------------ the data


def test_the_data_keeps_the_demo_s_promises() -> None:
    seed = load_seed(DATA_FILE)
    priyas = {o.order_id: o for o in seed.orders if o.customer_id == PRIYA}
    assert len(seed.orders) >= 45
    assert {o.status for o in seed.orders} == set(OrderStatus)
    assert len({o.customer_id for o in seed.orders}) >= 8
    assert len({o.order_id for o in seed.orders}) == len(seed.orders)
    assert priyas[IN_TRANSIT].status is OrderStatus.IN_TRANSIT
    assert priyas[PLACED].status is OrderStatus.PLACED
    assert priyas[DELIVERED_RECENTLY].status is OrderStatus.DELIVERED
    assert all(o.email == "priya@example.com" for o in priyas.values())


# ------------------------------------------------------------------------------- reading


def test_the_owner_reads_an_order(client: httpx.Client) -> None:
    response = client.get(f"/orders/{IN_TRANSIT}", headers=headers())

    assert response.status_code == 200
    order = response.json()
    assert order["status"] == "in_transit"
    assert order["shipment"]["estimated_delivery"] == "2026-12-01"
    assert order["total"] == pytest.approx(sum(i["price"] * i["quantity"] for i in order["items"]))
    assert order["delivery_address"]["postcode"] == "N16 9PH"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/orders/{}"),
        ("GET", "/orders/{}/refund"),
        ("GET", "/orders/{}/return"),
        ("POST", "/orders/{}/cancel"),
    ],
)
def test_another_customer_s_order_answers_exactly_like_an_unknown_one(
    client: httpx.Client, method: str, path: str
) -> None:
    theirs = client.request(method, path.format(TOMS_PROCESSING), headers=headers(PRIYA, "k1"))
    unknown = client.request(method, path.format(UNKNOWN), headers=headers(PRIYA, "k2"))

    assert theirs.status_code == unknown.status_code == 404
    assert theirs.content == unknown.content
    assert theirs.headers.items() == unknown.headers.items()
    owner = client.get(f"/orders/{TOMS_PROCESSING}", headers=headers(TOM))
    assert owner.json()["status"] == "processing"


def test_a_customer_lists_only_their_own_orders_newest_first(client: httpx.Client) -> None:
    mine = client.get(f"/customers/{PRIYA}/orders", headers=headers())
    theirs = client.get(f"/customers/{TOM}/orders", headers=headers())
    nobody = client.get("/customers/cust-0/orders", headers=headers())

    assert mine.status_code == 200
    orders = mine.json()["orders"]
    assert mine.json()["customer"]["name"] == "Priya Sharma"
    assert {o["customer_id"] for o in orders} == {PRIYA}
    assert [o["placed_at"] for o in orders] == sorted(
        (o["placed_at"] for o in orders), reverse=True
    )
    assert orders[0]["order_id"] == PLACED
    assert theirs.status_code == nobody.status_code == 404
    assert theirs.content == nobody.content


def test_refund_and_return_are_read_apart(client: httpx.Client) -> None:
    refund = client.get(f"/orders/{CANCELLED_AND_REFUNDED}/refund", headers=headers()).json()
    no_return = client.get(f"/orders/{IN_TRANSIT}/return", headers=headers()).json()

    assert refund["refund"]["status"] == "issued"
    assert refund["refund"]["amount"] == pytest.approx(33.94)
    assert no_return == {"order_id": IN_TRANSIT, "return": None}


# ------------------------------------------------------------------ what every call needs


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x"]
)
def test_without_the_token_nothing_is_answered_or_changed(
    shop: DemoShop, db_path: Path, authorization: str | None
) -> None:
    sent = headers(PRIYA, "k1")
    if authorization is not None:
        sent["Authorization"] = authorization
    with httpx.Client(base_url=shop.url, timeout=5.0) as stranger:
        reads = stranger.get(f"/orders/{IN_TRANSIT}", headers=sent)
        cancel = stranger.post(f"/orders/{PLACED}/cancel", headers=sent)
        verify = stranger.post(
            "/verify", json={"order_id": IN_TRANSIT, "email": "priya@example.com"}
        )

    assert reads.status_code == cancel.status_code == verify.status_code == 401
    assert reads.headers["www-authenticate"] == "Bearer"
    assert changes(db_path, PLACED) == []


def test_an_order_route_needs_the_customer_it_acts_for(client: httpx.Client) -> None:
    response = client.get(f"/orders/{IN_TRANSIT}", headers=headers(customer=None))

    assert response.status_code == 400
    assert "X-Customer-Id" in response.json()["detail"]


@pytest.mark.parametrize("order_id", ["204518", "bc-204518", "BC-20451", "BC-2045189", "BC-20451x"])
def test_a_malformed_order_id_names_the_expected_form(client: httpx.Client, order_id: str) -> None:
    response = client.get(f"/orders/{order_id}", headers=headers())

    assert response.status_code == 422
    assert "BC- and 6 digits" in response.json()["detail"]


# ----------------------------------------------------------------------------------- writes


def test_a_write_needs_an_idempotency_key(client: httpx.Client, db_path: Path) -> None:
    response = client.post(f"/orders/{PLACED}/cancel", headers=headers())

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert changes(db_path, PLACED) == []


def test_a_resend_with_the_same_key_cancels_once_and_answers_the_same(
    client: httpx.Client, db_path: Path
) -> None:
    first = client.post(f"/orders/{PLACED}/cancel", headers=headers(PRIYA, "cancel-1"))
    again = client.post(f"/orders/{PLACED}/cancel", headers=headers(PRIYA, "cancel-1"))
    fresh = client.post(f"/orders/{PLACED}/cancel", headers=headers(PRIYA, "cancel-2"))

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert first.json()["status"] == "cancelled"
    assert first.json()["refund"] == {"amount": 71.0, "status": "pending", "issued_at": None}
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    # A new key is a new request: the order is cancelled already, so this one is refused.
    assert fresh.status_code == 409
    assert changes(db_path, PLACED) == ["cancel"]


def test_resends_arriving_together_still_run_once(client: httpx.Client, db_path: Path) -> None:
    def cancel(_: int) -> httpx.Response:
        return client.post(f"/orders/{PLACED}/cancel", headers=headers(PRIYA, "together"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(cancel, range(4)))

    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert changes(db_path, PLACED) == ["cancel"]


def test_a_key_reused_for_another_request_is_refused(client: httpx.Client) -> None:
    client.post(f"/orders/{PLACED}/cancel", headers=headers(PRIYA, "used"))
    response = client.post(
        f"/orders/{DELIVERED_RECENTLY}/returns",
        headers=headers(PRIYA, "used"),
        json={"sku": "KIT-KTL-017"},
    )

    assert response.status_code == 422
    assert "already used" in response.json()["detail"]


@pytest.mark.parametrize(
    ("order_id", "code"),
    [
        (IN_TRANSIT, "not_cancellable"),
        (DELIVERED_RECENTLY, "not_cancellable"),
        (CANCELLED_AND_REFUNDED, "not_cancellable"),
    ],
)
def test_only_an_order_not_yet_dispatched_can_be_cancelled(
    client: httpx.Client, db_path: Path, order_id: str, code: str
) -> None:
    response = client.post(f"/orders/{order_id}/cancel", headers=headers(PRIYA, "k"))

    assert response.status_code == 409
    assert response.json()["code"] == code
    assert order_id in response.json()["detail"]
    assert changes(db_path, order_id) == []


def test_a_delivered_item_is_returned_within_30_days(client: httpx.Client) -> None:
    started = client.post(
        f"/orders/{DELIVERED_RECENTLY}/returns",
        headers=headers(PRIYA, "return-1"),
        json={"sku": "KIT-MUG-4SG"},
    )
    second = client.post(
        f"/orders/{DELIVERED_RECENTLY}/returns",
        headers=headers(PRIYA, "return-2"),
        json={"sku": "KIT-KTL-017"},
    )
    read = client.get(f"/orders/{DELIVERED_RECENTLY}/return", headers=headers())

    assert started.status_code == 201
    assert started.json()["return"] == {
        "sku": "KIT-MUG-4SG",
        "status": "started",
        "started_at": "2026-11-30T10:00:00Z",
    }
    assert read.json()["return"] == started.json()["return"]
    assert second.status_code == 409
    assert second.json()["code"] == "return_open"


@pytest.mark.parametrize(
    ("order_id", "sku", "code"),
    [
        (IN_TRANSIT, "ELE-HPH-NC2", "not_delivered"),
        (DELIVERED_LONG_AGO, "HOM-THR-OAT", "return_window_closed"),
        (DELIVERED_RECENTLY, "ELE-HPH-NC2", "not_in_order"),
    ],
)
def test_a_return_the_rules_do_not_allow_is_refused(
    client: httpx.Client, order_id: str, sku: str, code: str
) -> None:
    response = client.post(
        f"/orders/{order_id}/returns", headers=headers(PRIYA, "k"), json={"sku": sku}
    )

    assert response.status_code == 409
    assert response.json()["code"] == code


@pytest.mark.parametrize(
    ("now", "status_code"),
    [
        (datetime(2026, 12, 20, 23, 59, tzinfo=UTC), 201),  # day 30 after the 20th
        (datetime(2026, 12, 21, 0, 1, tzinfo=UTC), 409),  # day 31
    ],
)
def test_the_return_window_counts_calendar_days(
    tmp_path: Path, now: datetime, status_code: int
) -> None:
    later = start(tmp_path / "later.db", now=now)
    try:
        with connect(later) as session:
            response = session.post(
                f"/orders/{DELIVERED_RECENTLY}/returns",
                headers=headers(PRIYA, "k"),
                json={"sku": "KIT-KTL-017"},
            )
    finally:
        later.stop()

    assert response.status_code == status_code


def test_the_address_changes_only_before_dispatch(client: httpx.Client) -> None:
    new_address = {"lines": ["Flat 9", "2 Amhurst Park"], "city": "London", "postcode": "N16 5AA"}

    changed = client.put(
        f"/orders/{PLACED}/address", headers=headers(PRIYA, "move-1"), json=new_address
    )
    refused = client.put(
        f"/orders/{IN_TRANSIT}/address", headers=headers(PRIYA, "move-2"), json=new_address
    )

    assert changed.status_code == 200
    read = client.get(f"/orders/{PLACED}", headers=headers()).json()
    assert read["delivery_address"] == new_address
    assert refused.status_code == 409
    assert refused.json()["code"] == "address_locked"


def test_an_empty_address_is_refused(client: httpx.Client) -> None:
    response = client.put(
        f"/orders/{PLACED}/address",
        headers=headers(PRIYA, "k"),
        json={"lines": [], "city": "London", "postcode": "N16 5AA"},
    )

    assert response.status_code == 422


# ---------------------------------------------------------------------------------- verify


def test_a_visitor_proves_who_they_are_with_an_order_and_its_email(client: httpx.Client) -> None:
    right = client.post("/verify", json={"order_id": IN_TRANSIT, "email": "Priya@Example.COM"})
    wrong = client.post(
        "/verify", json={"order_id": IN_TRANSIT, "email": "tom.whitaker@example.com"}
    )
    unknown = client.post("/verify", json={"order_id": UNKNOWN, "email": "priya@example.com"})
    malformed = client.post("/verify", json={"order_id": "204518", "email": "priya@example.com"})

    assert right.status_code == 200
    assert right.json() == {"customer_id": PRIYA}
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.content == unknown.content
    assert malformed.status_code == 422


# ------------------------------------------------------------------------------ the server


def test_writes_and_their_keys_outlive_a_restart(db_path: Path) -> None:
    first = start(db_path)
    try:
        with connect(first) as session:
            cancelled = session.post(f"/orders/{PLACED}/cancel", headers=headers(PRIYA, "k1"))
    finally:
        first.stop()

    second = start(db_path)
    try:
        with connect(second) as session:
            read = session.get(f"/orders/{PLACED}", headers=headers())
            resent = session.post(f"/orders/{PLACED}/cancel", headers=headers(PRIYA, "k1"))
    finally:
        second.stop()

    assert cancelled.status_code == 200
    # Not seeded again over the write: the order is still cancelled.
    assert read.json()["status"] == "cancelled"
    assert resent.status_code == 200
    assert resent.json() == cancelled.json()
    assert resent.headers["idempotent-replayed"] == "true"
    assert changes(db_path, PLACED) == ["cancel"]


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", 0))
        other_program.listen()
        port = other_program.getsockname()[1]

        with pytest.raises(ShopStartError, match=f"127.0.0.1:{port}: the port is taken"):
            start_demo_shop("127.0.0.1", port, DATA_FILE, tmp_path / "shop.db", TOKEN)


def test_stop_closes_the_port(tmp_path: Path) -> None:
    running = start(tmp_path / "shop.db")
    running.stop()

    with pytest.raises(httpx.ConnectError), httpx.Client(timeout=2.0) as session:
        session.get(f"{running.url}/orders/{IN_TRANSIT}")
