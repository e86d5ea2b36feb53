"""The API against its own OpenAPI description, fuzzed with schemathesis: every response's
status, content type, headers and body must be the ones declared, and no request may give a
server error. The service runs on the fake reading model with rate limits off; customer routes
are called with a real conversation and its token, staff routes with an admin's token."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation

from bot.app import create_app
from bot.runtime import Runtime, build_runtime
from tests.fakes import FakeReader
from tests.helpers.service import escalated_conversation, log_in, make_settings

# Examples per operation and phase: enough to reach each declared limit and each error the
# fuzzer can provoke, while the whole module stays within a few minutes on a CI machine.
MAX_EXAMPLES = 25
FUZZ_TIMEOUT = 300
METRICS_TOKEN = "metrics-token-for-the-fuzz-test"


@dataclass(frozen=True)
class KnownIds:
    """Ids that exist, put in paths most of the time so that cases reach the routes' work
    rather than all ending as 404s."""

    by_name: dict[str, str | int]

    def apply(self, case: Case[Any]) -> None:
        meta = case.meta
        path = meta.components.get(ParameterLocation.PATH) if meta is not None else None
        # A negative path (an id out of bounds) is there to be refused: keep it.
        if path is None or path.mode.is_negative:
            return
        for name, value in list(case.path_parameters.items()):
            if name in self.by_name and _mostly(value):
                case.path_parameters[name] = self.by_name[name]


def _mostly(generated: Any) -> bool:
    """True for about four generated values in five, the same ones on every run."""
    return zlib.crc32(repr(generated).encode()) % 5 != 0


def _config(customer_token: str, staff_token: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "cache": {"enabled": False},
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {"stateful": {"enabled": False}},
            "auth": {
                "openapi": {
                    "CustomerToken": {"bearer": customer_token},
                    "StaffToken": {"bearer": staff_token},
                    "MetricsToken": {"bearer": METRICS_TOKEN},
                }
            },
        }
    )


@pytest.fixture
def fuzz_app(desk: Runtime) -> Iterator[tuple[FastAPI, KnownIds, SchemathesisConfig]]:
    settings = desk.settings.model_copy(
        update={"rate_limits": False, "metrics_token": SecretStr(METRICS_TOKEN)}
    )
    app = create_app(settings, desk)
    with TestClient(app) as client:
        conversation_id, customer = escalated_conversation(client)
        staff = log_in(client, "ana")
        messages = client.get(f"/api/conversations/{conversation_id}/messages", headers=customer)
        message_id = messages.json()["messages"][0]["id"]
        me = client.get("/api/staff/me", headers=staff).json()
        detail = client.get(f"/api/staff/conversations/{conversation_id}", headers=staff).json()
        known = KnownIds(
            {
                "conversation_id": conversation_id,
                "message_id": message_id,
                "staff_id": me["id"],
                "customer": str(detail["customer"]["id"]),
                "entry_id": "returns.policy",
            }
        )
        config = _config(
            customer["Authorization"].removeprefix("Bearer "),
            staff["Authorization"].removeprefix("Bearer "),
        )
        yield app, known, config


@pytest.fixture
def api_schema(fuzz_app: tuple[FastAPI, KnownIds, SchemathesisConfig]) -> Any:
    app, _, config = fuzz_app
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


@pytest.fixture
def known_ids(fuzz_app: tuple[FastAPI, KnownIds, SchemathesisConfig]) -> KnownIds:
    return fuzz_app[1]


schema = schemathesis.pytest.from_fixture("api_schema")


# Every operation in one test (each a subtest), and on PostgreSQL as well as SQLite: it is
# PostgreSQL that refuses what SQLite takes (a NUL character, an id beyond INTEGER).
@pytest.mark.timeout(FUZZ_TIMEOUT)
@schema.parametrize()
def test_api_matches_its_description(case: Case[Any], known_ids: KnownIds) -> None:
    known_ids.apply(case)
    case.call_and_validate()


def test_a_429_matches_its_description(sqlite_url: str, tmp_path: Path, mini_kb_path: Path) -> None:
    settings = make_settings(
        sqlite_url, tmp_path, mini_kb_path, limit_conversation_starts="1/minute"
    )
    runtime = build_runtime(settings, encoder=FakeReader())
    try:
        app = create_app(settings, runtime)
        with TestClient(app):
            config = SchemathesisConfig.from_dict({"cache": {"enabled": False}})
            api = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
            start = api["/api/conversations"]["POST"]
            answers = []
            for _ in range(2):
                case = start.Case(body={"channel": "web"})
                response = case.call()
                case.validate_response(response)
                answers.append(response.status_code)
            assert answers == [201, 429]
            assert int(response.headers["retry-after"][0]) >= 1
    finally:
        runtime.close()
