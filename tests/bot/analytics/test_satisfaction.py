"""Satisfaction: the post-chat survey, its aggregates over the staff API, the predicted score for
every conversation, and refitting it from survey answers with its agreement report."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.cli import main
from bot.runtime import Runtime
from bot.storage.models import Survey
from tests.helpers.service import STAFF_PASSWORD


def chat(client: TestClient, texts: list[str], channel: str = "web") -> tuple[str, dict[str, str]]:
    started = client.post("/api/conversations", json={"channel": channel}).json()
    auth = {"Authorization": f"Bearer {started['customer_token']}"}
    for text in texts:
        response = client.post(
            f"/api/conversations/{started['conversation_id']}/messages",
            json={"text": text},
            headers=auth,
        )
        assert response.status_code == 200
    return started["conversation_id"], auth


def survey(client: TestClient, conversation_id: str, auth: dict[str, str], **answers: Any) -> int:
    return client.post(
        f"/api/conversations/{conversation_id}/survey", json=answers, headers=auth
    ).status_code


def staff(client: TestClient) -> dict[str, str]:
    token = client.post("/api/staff/login", json={"username": "sam", "password": STAFF_PASSWORD})
    return {"Authorization": f"Bearer {token.json()['token']}"}


def test_the_survey_is_answered_once_checked_and_redacted(
    reader_client: TestClient, reader_runtime: Runtime
) -> None:
    conversation_id, auth = chat(reader_client, ["where is my parcel"])
    _, someone_else = chat(reader_client, ["hello"])
    assert survey(reader_client, conversation_id, someone_else, csat=5) == 403
    assert survey(reader_client, conversation_id, auth, csat=6) == 422
    assert survey(reader_client, conversation_id, auth) == 422  # nothing answered
    note = "great, write to me at ada@example.com"
    assert survey(reader_client, conversation_id, auth, csat=5, nps=9, ces=6, comment=note) == 204
    assert survey(reader_client, conversation_id, auth, csat=1) == 409
    with reader_runtime.sessions() as session:
        stored = session.scalars(select(Survey)).one()
    assert (stored.csat, stored.nps, stored.ces) == (5, 9, 6)
    assert stored.comment == "great, write to me at [email]"


def test_aggregates_by_channel_and_intent(reader_client: TestClient) -> None:
    answers = [
        ("web", ["where is my parcel"], {"csat": 5, "nps": 10, "ces": 7}),
        ("web", ["where is my order"], {"csat": 4, "nps": 8, "ces": 5}),
        ("web", ["can I pay by card"], {"csat": 2, "nps": 3, "ces": 2}),
        ("email", ["how do I return this"], {"csat": 1, "nps": 0}),
    ]
    for channel, texts, survey_answers in answers:
        conversation_id, auth = chat(reader_client, texts, channel)
        assert survey(reader_client, conversation_id, auth, **survey_answers) == 204
    figures = reader_client.get(
        "/api/staff/satisfaction?by=channel", headers=staff(reader_client)
    ).json()
    assert figures["overall"] == {
        "group": "all", "responses": 4, "csat": 50.0, "nps": -25.0, "ces": 4.67,
    }  # fmt: skip
    by_channel = {group["group"]: group for group in figures["groups"]}
    assert by_channel["web"]["csat"] == pytest.approx(66.7)
    assert by_channel["web"]["nps"] == pytest.approx(0.0)  # 1 promoter, 1 detractor of 3
    assert by_channel["email"] == {
        "group": "email", "responses": 1, "csat": 0.0, "nps": -100.0, "ces": None,
    }  # fmt: skip
    by_intent = reader_client.get(
        "/api/staff/satisfaction?by=intent", headers=staff(reader_client)
    ).json()
    assert {g["group"]: g["responses"] for g in by_intent["groups"]} == {
        "track_order": 2, "payment_methods": 1, "return_policy": 1,
    }  # fmt: skip
    assert reader_client.get("/api/staff/satisfaction").status_code == 401


def test_every_conversation_gets_a_predicted_score_unhappy_ones_lower(
    reader_client: TestClient,
) -> None:
    happy, _ = chat(reader_client, ["where is my parcel", "great, thanks"])
    unhappy, _ = chat(reader_client, ["my parcel is still not here", "this is ridiculous"])
    agent = staff(reader_client)
    queue = reader_client.get("/api/staff/queue", headers=agent).json()
    assert [item["conversation_id"] for item in queue] == [unhappy]  # escalated: two negatives
    scores = {
        conversation: reader_client.get(
            f"/api/staff/conversations/{conversation}", headers=agent
        ).json()["predicted_satisfaction"]
        for conversation in (happy, unhappy)
    }
    assert 1 <= scores[unhappy] < scores[happy] <= 5
    assert queue[0]["predicted_satisfaction"] == scores[unhappy]


def test_refitting_reports_agreement_with_the_answers(
    reader_client: TestClient, reader_runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = {"CXAGENT_DATABASE_URL": reader_runtime.settings.database_url}
    assert main(["fit-satisfaction"], environ=environ) == 2
    assert "at least 14 are needed" in capsys.readouterr().err
    happy = ["where is my parcel", "great, thanks"]
    neutral = ["can I pay by card"]
    unhappy = ["my order is still late", "what about my password"]
    for round_number in range(6):
        for texts, csat in ((happy, 5), (neutral, 4 - round_number % 2), (unhappy, 2)):
            conversation_id, auth = chat(reader_client, texts)
            assert survey(reader_client, conversation_id, auth, csat=csat) == 204
    assert main(["fit-satisfaction"], environ=environ) == 0
    output = capsys.readouterr()
    assert "satisfied agreement" in output.err
    report = __import__("json").loads(output.out)
    fitted, default = report["agreement"]["fitted"], report["agreement"]["default"]
    assert fitted["conversations"] == default["conversations"] == 18
    assert fitted["spearman"] > 0.8 and fitted["mae"] <= default["mae"]
    model = reader_client.get("/api/staff/satisfaction", headers=staff(reader_client)).json()[
        "model"
    ]
    assert model["fitted_at"] is not None and model["weights"] == pytest.approx(report["weights"])
