"""The staff API's export and erasure of a customer's data: admins only, each on the record."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.runtime import Runtime
from bot.storage.models import PrivacyRecord
from tests.helpers.privacy import History, dump, write_history
from tests.helpers.service import log_in


@pytest.fixture
def client(privacy_desk: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(privacy_desk.settings, privacy_desk)) as test_client:
        yield test_client


def test_agents_are_refused_and_nothing_is_recorded(
    privacy_desk: Runtime, client: TestClient
) -> None:
    ada = write_history(client, privacy_desk.sessions, "ada", "Ada Lovelace")
    agent = log_in(client, "sam")
    url = f"/api/staff/customers/{ada.customer_id}"
    for response in (client.get(f"{url}/export", headers=agent), client.delete(url, headers=agent)):
        assert response.status_code == 403
        assert response.json()["detail"] == "only an admin can export or erase a customer's data"
    assert client.get(f"{url}/export").status_code == 401
    assert ada.external_id in dump(privacy_desk.sessions)
    with privacy_desk.sessions() as session:
        assert session.scalars(select(PrivacyRecord)).all() == []


def test_an_admin_exports_and_erases_a_customer(privacy_desk: Runtime, client: TestClient) -> None:
    ada = write_history(client, privacy_desk.sessions, "ada", "Ada Lovelace")
    bob: History = write_history(client, privacy_desk.sessions, "bob", "Bob Marley")
    admin = log_in(client, "ana")
    admin_id = client.get("/api/staff/me", headers=admin).json()["id"]

    exported = client.get(
        f"/api/staff/customers/{ada.external_id}/export",
        params={"by": "external_id"},
        headers=admin,
    )
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-disposition"] == (
        f'attachment; filename="customer-{ada.customer_id}.json"'
    )
    document = exported.json()
    assert document["customer"]["name"] == "Ada Lovelace"
    assert len(document["messages"]) == 7 and len(document["surveys"]) == 1
    assert document["conversations"][0]["id"] == ada.conversation_id

    erased = client.delete(f"/api/staff/customers/{ada.customer_id}", headers=admin)
    assert erased.status_code == 200, erased.text
    assert erased.json()["customer_id"] == ada.customer_id
    assert erased.json()["rows"]["messages"] == 7
    after = dump(privacy_desk.sessions)
    assert [trace for trace in ada.traces if trace in after] == []
    assert all(trace in after for trace in bob.traces)
    # The conversation is gone from the console too.
    staff_view = client.get(f"/api/staff/conversations/{ada.conversation_id}", headers=admin)
    assert staff_view.status_code == 404
    with privacy_desk.sessions() as session:
        recorded = session.execute(
            select(PrivacyRecord.action, PrivacyRecord.customer_id, PrivacyRecord.staff_id)
        ).all()
    assert [tuple(row) for row in recorded] == [
        ("export", ada.customer_id, admin_id),
        ("erase", ada.customer_id, admin_id),
    ]


def test_a_customer_who_cannot_be_found_is_named_in_the_answer(client: TestClient) -> None:
    admin = log_in(client, "ana")
    for path, status, detail in [
        ("/api/staff/customers/cust-1/export", 422, "not an internal customer id"),
        ("/api/staff/customers/424242/export", 404, "customer 424242 does not exist"),
        ("/api/staff/customers/99999999999999999999/export", 404, "does not exist"),
        ("/api/staff/customers/nobody/export?by=external_id", 404, "'nobody' does not exist"),
        ("/api/staff/customers/1/export?by=email", 422, "id"),
    ]:
        response = client.get(path, headers=admin)
        assert response.status_code == status, path
        assert detail in str(response.json()["detail"]), path
