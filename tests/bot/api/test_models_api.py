"""The model registry's API for the console: admins only; the versions, a candidate's metric
table, promotion (refused when worse, forced on the record) and rollback, all from measures
already taken (the service never loads a model to measure it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.models_registry import ModelRegistry
from bot.runtime import build_runtime
from bot.support.accounts import Role
from tests.fakes import FakeReader
from tests.helpers.model_registry import fake_bundle, measured_registry
from tests.helpers.service import STAFF_PASSWORD, log_in, make_settings

MEASURES = {
    "a": {"intent_accuracy": 0.90, "oos_recall": 0.80},
    "b": {"intent_accuracy": 0.95, "oos_recall": 0.80},
    "c": {"intent_accuracy": 0.70, "oos_recall": 0.80},
}


@pytest.fixture
def models_client(
    sqlite_url: str, tmp_path: Path, mini_kb_path: Path
) -> Iterator[tuple[TestClient, ModelRegistry, dict[str, str]]]:
    """The service with a registry of three versions measured (a serving, b better, c worse)
    and one unmeasured (d), an admin ``ana`` and an agent ``sam``."""
    settings = make_settings(sqlite_url, tmp_path, mini_kb_path, model_registry=tmp_path / "reg")
    runtime = build_runtime(settings, encoder=FakeReader())
    runtime.staff.create_account("ana", STAFF_PASSWORD, Role.ADMIN, "Ana Admin")
    runtime.staff.create_account("sam", STAFF_PASSWORD, Role.AGENT, "Sam Support")
    registry = measured_registry(tmp_path / "reg", runtime.sessions, dict(MEASURES))
    versions = {
        name: registry.register(fake_bundle(tmp_path / name, name), "eve").version
        for name in "abcd"
    }
    for name in "abc":
        registry.evaluate(versions[name])
    registry.promote(versions["a"], "eve")
    with TestClient(create_app(runtime.settings, runtime)) as client:
        yield client, registry, versions
    runtime.close()


def test_admins_see_the_versions_and_agents_are_refused(
    models_client: tuple[TestClient, ModelRegistry, dict[str, str]],
) -> None:
    client, _, versions = models_client
    assert client.get("/api/staff/models").status_code == 401
    agent = client.get("/api/staff/models", headers=log_in(client, "sam"))
    assert agent.status_code == 403 and "only an admin" in agent.json()["detail"]
    listing = client.get("/api/staff/models", headers=log_in(client, "ana")).json()
    assert listing["serving"] == versions["a"] and listing["test_set"] is True
    by_version = {v["version"]: v for v in listing["versions"]}
    assert by_version[versions["a"]]["status"] == "serving"
    assert by_version[versions["b"]]["measures"] == MEASURES["b"]
    assert by_version[versions["d"]]["measures"] is None
    assert by_version[versions["b"]]["data"]["intent_rows"] == 10
    assert by_version[versions["b"]]["corrections_since"] == 0
    assert [(h["action"], h["version"], h["by"]) for h in listing["history"]] == [
        ("promote", versions["a"], "eve")
    ]


def test_a_worse_version_is_refused_then_forced_and_rolled_back(
    models_client: tuple[TestClient, ModelRegistry, dict[str, str]],
) -> None:
    client, registry, versions = models_client
    admin = log_in(client, "ana")
    table = client.get(f"/api/staff/models/{versions['c']}/comparison", headers=admin).json()
    accuracy = next(row for row in table["rows"] if row["measure"] == "intent_accuracy")
    assert accuracy["worse"] is True and accuracy["change"] == pytest.approx(-20.0)
    assert table["serving"] == versions["a"] and table["tolerance_points"] == 0.3

    path = f"/api/staff/models/{versions['c']}/promote"
    refused = client.post(path, json={}, headers=admin)
    assert refused.status_code == 409
    assert "intent_accuracy 0.7000 against 0.9000" in refused.json()["detail"]
    assert registry.serving_version() == versions["a"]

    forced = client.post(path, json={"force": True}, headers=admin)
    assert forced.status_code == 200 and forced.json()["worse"]
    last = registry.history()[-1]
    assert (last.version, last.by, last.forced) == (versions["c"], "ana (console)", True)

    back = client.post("/api/staff/models/rollback", headers=admin)
    assert back.status_code == 200 and back.json()["serving"] == versions["a"]
    better = client.post(f"/api/staff/models/{versions['b']}/promote", json={}, headers=admin)
    assert better.status_code == 200 and better.json()["worse"] == ""
    assert registry.serving_version() == versions["b"]


def test_what_cannot_be_done_is_a_clear_4xx(
    models_client: tuple[TestClient, ModelRegistry, dict[str, str]],
) -> None:
    client, registry, versions = models_client
    admin = log_in(client, "ana")
    unmeasured = client.post(f"/api/staff/models/{versions['d']}/promote", json={}, headers=admin)
    assert unmeasured.status_code == 409
    assert f"cxagent models evaluate {versions['d']}" in unmeasured.json()["detail"]
    unknown = client.get("/api/staff/models/20260101-000000-0123456789/comparison", headers=admin)
    assert unknown.status_code == 404 and "no model version" in unknown.json()["detail"]
    serving = client.post(f"/api/staff/models/{versions['a']}/promote", json={}, headers=admin)
    assert serving.status_code == 409 and "serving already" in serving.json()["detail"]
    for malformed in ("nope", "..%2F..%2Fetc", f"{versions['a']}0"):
        refused = client.get(f"/api/staff/models/{malformed}/comparison", headers=admin)
        assert refused.status_code in (404, 422), malformed  # %2F may not reach the route
    registry.rollback("eve")
    nothing = client.post("/api/staff/models/rollback", headers=admin)
    assert nothing.status_code == 409 and "nothing to roll back" in nothing.json()["detail"]


def test_retraining_without_redis_is_refused_with_what_to_do(
    models_client: tuple[TestClient, ModelRegistry, dict[str, str]],
) -> None:
    client, _, _ = models_client
    admin = log_in(client, "ana")
    for method in ("GET", "POST"):
        refused = client.request(method, "/api/staff/models/retrainings", headers=admin)
        assert refused.status_code == 503
        assert "set CXAGENT_REDIS_URL and run `cxagent worker`" in refused.json()["detail"]


def test_an_admin_starts_one_retraining_at_a_time(
    sqlite_url: str, tmp_path: Path, mini_kb_path: Path, redis_url: str
) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/14"  # these tests' own database of the test Redis
    redis.Redis.from_url(url).flushdb()
    settings = make_settings(sqlite_url, tmp_path, mini_kb_path, redis_url=url)
    runtime = build_runtime(settings, encoder=FakeReader())
    runtime.staff.create_account("ana", STAFF_PASSWORD, Role.ADMIN, "Ana Admin")
    runtime.staff.create_account("sam", STAFF_PASSWORD, Role.AGENT, "Sam Support")
    path = "/api/staff/models/retrainings"
    with TestClient(create_app(runtime.settings, runtime)) as client:
        assert client.post(path, headers=log_in(client, "sam")).status_code == 403
        admin = log_in(client, "ana")
        started = client.post(path, headers=admin)
        assert started.status_code == 202
        job = started.json()
        assert (job["status"], job["stage"], job["requested_by"]) == ("queued", "queued", "ana")
        again = client.post(path, headers=admin)
        assert again.status_code == 409 and "queued already" in again.json()["detail"]
        [listed] = client.get(path, headers=admin).json()
        assert listed["id"] == job["id"] and listed["version"] is None
    runtime.close()
