"""What the action tests share: the demo shop's API running for real, and a customer's
conversation over the REST API, signed by the company's site or not."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bot.config import DEMO_DIR
from bot.demo_shop.server import DemoShop, start_demo_shop
from tests.helpers.identity import TEST_IDENTITY_SECRET, start_body

SHOP_TOKEN = "shop-token-for-tests"
IDENTITY_SECRET = TEST_IDENTITY_SECRET


@contextmanager
def running_demo_shop(folder: Path) -> Iterator[DemoShop]:
    """The demo shop's API on a free port, its orders seeded into ``folder``."""
    shop = start_demo_shop(
        "127.0.0.1", 0, DEMO_DIR / "shop" / "orders.yaml", folder / "shop.db", SHOP_TOKEN
    )
    try:
        yield shop
    finally:
        shop.stop()


class Chat:
    """One customer's conversation over the REST API; ``customer_id`` signed by the site with
    IDENTITY_SECRET, or an anonymous visitor without one."""

    def __init__(self, client: TestClient, customer_id: str | None = None) -> None:
        body = start_body({"external_id": customer_id}, IDENTITY_SECRET)
        started = client.post("/api/conversations", json=body).json()
        self.client = client
        self.id: str = started["conversation_id"]
        self.auth = {"Authorization": f"Bearer {started['customer_token']}"}

    def turn(self, text: str, client_message_id: str | None = None) -> dict[str, Any]:
        """The stored message and the bot's reply."""
        body: dict[str, Any] = {"text": text}
        if client_message_id is not None:
            body["client_message_id"] = client_message_id
        response = self.client.post(
            f"/api/conversations/{self.id}/messages", json=body, headers=self.auth
        )
        assert response.status_code == 200, response.text
        turn: dict[str, Any] = response.json()
        return turn

    def says(self, text: str, client_message_id: str | None = None) -> dict[str, Any]:
        """The bot's reply."""
        reply: dict[str, Any] = self.turn(text, client_message_id)["reply"]
        return reply

    def transcript(self) -> list[dict[str, Any]]:
        response = self.client.get(f"/api/conversations/{self.id}/messages", headers=self.auth)
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages
