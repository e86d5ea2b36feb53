"""The Models page in a real browser: an admin compares a worse candidate with the serving
model (the metric table says which measure and by how much), promotes it anyway (the log says
forced), rolls back, and promotes a better one. The registry's versions are stand-in bundles
with measures given (tests.helpers.model_registry): the page compares measures, it never loads
a model."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from playwright.sync_api import expect

from bot.config import Settings, load_settings
from bot.models_registry import ModelRegistry
from bot.runtime import build_runtime
from bot.support.accounts import Role
from tests.fakes import FakeReader
from tests.helpers.model_registry import fake_bundle, measured_registry
from tests.helpers.training import INTENTS, SENTIMENT, write
from tests.web.pages import (
    ADMIN_PASSWORD,
    Console,
    LiveService,
    axe_violations,
    screenshot,
    serving,
)

MEASURES = {
    "a": {"intent_accuracy": 0.90, "oos_recall": 0.80, "sentiment_macro_recall": 0.70},
    "b": {"intent_accuracy": 0.93, "oos_recall": 0.81, "sentiment_macro_recall": 0.70},
    "c": {"intent_accuracy": 0.62, "oos_recall": 0.80, "sentiment_macro_recall": 0.71},
}


@pytest.fixture
def models_service(tmp_path: Path) -> Iterator[tuple[LiveService, ModelRegistry, dict[str, str]]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/cx.db",
        index_dir=tmp_path / "index",
        actions=None,
        model_registry=tmp_path / "registry",
    )
    runtime = build_runtime(settings, encoder=FakeReader())
    runtime.staff.create_account("ada", ADMIN_PASSWORD, Role.ADMIN, "Ada")
    registry = measured_registry(tmp_path / "registry", runtime.sessions, MEASURES)
    versions = {
        name: registry.register(fake_bundle(tmp_path / name, name), "eve").version for name in "abc"
    }
    for version in versions.values():
        registry.evaluate(version)
    registry.promote(versions["a"], "eve")
    try:
        with serving(runtime) as service:
            yield service, registry, versions
    finally:
        runtime.close()


def test_an_admin_compares_forces_rolls_back_and_promotes(
    models_service: tuple[LiveService, ModelRegistry, dict[str, str]], new_page: Any
) -> None:
    service, registry, versions = models_service
    admin = Console(new_page(height=1000), service, "ada", ADMIN_PASSWORD)
    page = admin.page
    page.get_by_test_id("nav-models").click()

    def row(name: str) -> Any:
        return page.locator(f'[data-testid="models-row"][data-version="{versions[name]}"]')

    expect(row("a")).to_have_attribute("data-status", "serving")
    expect(row("c")).to_contain_text("62.00%")
    row("c").get_by_test_id("models-compare").click()
    worse = page.locator('[data-testid="models-measure"][data-measure="intent_accuracy"]')
    expect(worse).to_have_attribute("data-worse", "true")
    expect(worse).to_contain_text("−28.00 pts")
    expect(page.get_by_test_id("models-verdict")).to_contain_text("intent_accuracy 0.6200")
    expect(page.get_by_test_id("models-promote")).to_have_count(0)
    assert axe_violations(page) == []
    screenshot(page, "console-models")

    page.get_by_test_id("models-force").click()
    expect(row("c")).to_have_attribute("data-status", "serving")
    expect(page.get_by_test_id("models-history")).to_contain_text(
        f"promoted {versions['c']} (forced) · was {versions['a']}"
    )
    assert registry.history()[-1].by == "ada (console)"

    page.get_by_test_id("models-rollback").click()
    expect(row("a")).to_have_attribute("data-status", "serving")
    expect(row("c")).to_have_attribute("data-status", "retired")

    row("b").get_by_test_id("models-compare").click()
    expect(page.get_by_test_id("models-verdict")).to_contain_text("No worse")
    page.get_by_test_id("models-promote").click()
    expect(row("b")).to_have_attribute("data-status", "serving")
    assert registry.serving_version() == versions["b"]


def test_an_admin_retrains_follows_the_progress_and_sees_the_candidate(
    tmp_path: Path, mini_kb_path: Path, redis_url: str, new_page: Any
) -> None:
    """Retrain on the page, a real `cxagent worker` process runs the job (a training of a few
    steps on a few dozen rows), and the page shows the new candidate with its measures."""
    queue_redis = redis_url.rsplit("/", 1)[0] + "/14"  # the retraining tests' own database
    redis.Redis.from_url(queue_redis).flushdb()
    rows = [(text, label) for label, texts in INTENTS.items() for text in texts]
    environ = {
        "CXAGENT_DATABASE_URL": f"sqlite:///{tmp_path}/cx.db",
        "CXAGENT_REDIS_URL": queue_redis,
        "CXAGENT_MODEL_REGISTRY": str(tmp_path / "registry"),
        "CXAGENT_KNOWLEDGE_BASE": str(mini_kb_path),
        "CXAGENT_NLU_BUNDLE": "none",
        "CXAGENT_TRAINING_INTENT_DATA": str(write(tmp_path / "intents.csv", rows, "intent")),
        "CXAGENT_TRAINING_SENTIMENT_DATA": str(write(tmp_path / "s.csv", SENTIMENT, "sentiment")),
    }
    settings = load_settings({**environ, "CXAGENT_ACTIONS": "none"})
    runtime = build_runtime(settings, encoder=FakeReader())
    runtime.staff.create_account("ada", ADMIN_PASSWORD, Role.ADMIN, "Ada")
    # The measures are the worker's own (a real model on this test set), not these.
    measured_registry(tmp_path / "registry", runtime.sessions, {})
    try:
        with serving(runtime) as service:
            page = Console(new_page(height=1000), service, "ada", ADMIN_PASSWORD).page
            page.get_by_test_id("nav-models").click()
            page.get_by_test_id("models-retrain").click()
            expect(page.get_by_test_id("models-retraining-progress")).to_be_visible()
            expect(page.get_by_test_id("models-retraining-stage")).to_contain_text(
                "Waiting for a worker"
            )
            expect(page.get_by_test_id("models-retrain")).to_be_disabled()
            worker = subprocess.run(
                [sys.executable, "-m", "bot.cli", "worker", "--burst"],
                env={**os.environ, **environ, "CXAGENT_ACTIONS": "none"},
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert worker.returncode == 0, worker.stderr[-3000:]
            done = page.get_by_test_id("models-retraining-done")
            expect(done).to_contain_text("registered and measured", timeout=10_000)
            expect(done).to_contain_text(re.compile(r"exported for ONNX Runtime \((int8|fp32)\)"))
            [record] = ModelRegistry(settings.model_registry, runtime.sessions).records()
            row = page.locator(f'[data-testid="models-row"][data-version="{record.version}"]')
            expect(row).to_have_attribute("data-status", "candidate")
            expect(row).not_to_contain_text("not measured")
            expect(page.get_by_test_id("models-retrain")).to_be_enabled()
            assert axe_violations(page) == []
    finally:
        runtime.close()
