"""The knowledge-base API: editors and admins change entries, agents are refused, bad content
is a 422 that names the field, and the history, comparison and revert go through HTTP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.runtime import Runtime
from bot.support.accounts import Role
from tests.helpers.service import STAFF_PASSWORD, log_in

URL = "/api/staff/knowledge/entries"
RETURNS = f"{URL}/returns.policy"


@pytest.fixture
def client(desk: Runtime, desk_client: TestClient) -> TestClient:
    desk.staff.create_account("eve", STAFF_PASSWORD, Role.EDITOR, "Eve Editor")
    return desk_client


def test_agents_are_refused_and_editors_and_admins_let_in(client: TestClient) -> None:
    agent, editor, admin = log_in(client, "sam"), log_in(client, "eve"), log_in(client, "ana")
    refused = client.get(URL, headers=agent)
    assert refused.status_code == 403
    assert "editor or an admin" in refused.json()["detail"]
    assert (
        client.post(f"{RETURNS}/questions", json={"question": "x"}, headers=agent).status_code
        == 403
    )
    assert client.get(URL).status_code == 401
    listed = client.get(URL, headers=editor).json()
    assert "returns.policy" in [entry["id"] for entry in listed]
    assert client.get(RETURNS, headers=admin).json()["version"] == 1


def test_an_edit_a_history_a_comparison_and_a_revert(client: TestClient, desk: Runtime) -> None:
    editor = log_in(client, "eve")
    entry = client.get(RETURNS, headers=editor).json()
    content = {**entry["content"], "answer": "You can return items within 60 days."}
    edited = client.put(RETURNS, json={"entry": content, "base_version": 1}, headers=editor)
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    stale = client.put(RETURNS, json={"entry": content, "base_version": 1}, headers=editor)
    assert stale.status_code == 409

    compared = client.get(f"{RETURNS}/compare", params={"older": 1, "newer": 2}, headers=editor)
    assert compared.json()["changes"] == [
        {"field": "answer", "before": entry["content"]["answer"], "after": content["answer"]}
    ]
    reverted = client.post(f"{RETURNS}/revert", json={"version": 1}, headers=editor)
    assert reverted.json()["content"] == entry["content"]
    assert desk.knowledge_sync is not None
    desk.knowledge_sync.sync()  # what its thread does on the notice
    assert client.get("/health").json()["knowledge_base_revision"] == desk.knowledge.revision()
    history = client.get(f"{RETURNS}/history", headers=editor).json()
    assert [(v["version"], v["action"], v["author"]) for v in history] == [
        (3, "revert", "Eve Editor"),
        (2, "edit", "Eve Editor"),
        (1, "import", None),
    ]


def test_bad_content_is_a_422_that_names_the_field(client: TestClient) -> None:
    editor = log_in(client, "eve")
    entry = {"id": "gift.wrap", "intent": "gift", "questions": ["Gift wrap?"]}
    slots = client.post(URL, json={**entry, "answer": "Hi {customer_name}"}, headers=editor)
    assert slots.status_code == 422
    assert "needs a `fallback`" in slots.json()["detail"]
    no_questions = client.post(
        URL, json={**entry, "questions": [], "answer": "Yes"}, headers=editor
    )
    assert no_questions.status_code == 422
    spaced = client.post(URL, json={**entry, "questions": ["  "], "answer": "Yes"}, headers=editor)
    assert spaced.status_code == 422
    assert "`questions`" in spaced.json()["detail"]
    created = client.post(URL, json={**entry, "answer": "Yes."}, headers=editor)
    assert created.status_code == 201
    assert client.post(URL, json={**entry, "answer": "Yes."}, headers=editor).status_code == 409
    assert client.get(f"{URL}/nope", headers=editor).status_code == 404
    assert client.post(f"{URL}/nope/revert", json={"version": 1}, headers=editor).status_code == 404
