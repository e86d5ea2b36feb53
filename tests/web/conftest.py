"""The service running for real (uvicorn, the demo NLU bundle, SQLite, the demo knowledge base
and rules) and headless Debian Chromium driven by Playwright, for the widget and console tests.

Chromium is Debian's (`/usr/bin/chromium`); Playwright never downloads a browser here. Without
it these tests are skipped with the reason, except in CI, where they fail."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.runtime import build_runtime
from bot.support.accounts import Role
from tests.helpers.service import IN_CI
from tests.web.pages import ADMIN_PASSWORD, AGENT_PASSWORD, LiveService, serving

CHROMIUM = Path(os.environ.get("CXAGENT_TEST_CHROMIUM", "/usr/bin/chromium"))


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"no Chromium at {CHROMIUM}: run `bash tests/install-browser.sh`"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def live_service(
    served_encoder: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveService]:
    folder = tmp_path_factory.mktemp("live")
    # Actions (a company API) are not part of these pages' stories yet.
    settings = Settings(
        database_url=f"sqlite:///{folder}/cxagent.db", index_dir=folder / "index", actions=None
    )
    runtime = build_runtime(settings, encoder=served_encoder)
    runtime.staff.create_account("sam", AGENT_PASSWORD, Role.AGENT, "Sam")
    runtime.staff.create_account("ada", ADMIN_PASSWORD, Role.ADMIN, "Ada")
    try:
        with serving(runtime) as service:
            yield service
    finally:
        runtime.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """Pages in contexts of their own (each its own storage, like separate people); closed
    after the test."""
    contexts: list[Any] = []

    def make(width: int = 1280, height: int = 800) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
