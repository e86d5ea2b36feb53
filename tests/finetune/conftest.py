"""One tiny real training per test session, shared by the tests of what a bundle does."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.cli import main
from tests.helpers.service import MINI_KB
from tests.helpers.training import INTENTS, OOS, SENTIMENT, write


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("trained")
    (folder / "kb.yaml").write_text(yaml.safe_dump(MINI_KB, sort_keys=False), encoding="utf-8")
    arguments = [
        "train",
        "--intent-data", str(write(folder / "intents.csv", INTENTS, "intent")),
        "--sentiment-data", str(write(folder / "sentiment.csv", SENTIMENT, "sentiment")),
        "--oos-data", str(write(folder / "oos.csv", [(t, "oos") for t in OOS], "intent")),
        "--knowledge-base", str(folder / "kb.yaml"),
        "--output", str(folder / "bundle"),
        "--epochs", "1", "--batch-size", "8", "--lora-rank", "2", "--head-layers", "2",
    ]  # fmt: skip
    assert main(arguments, environ={}) == 0
    return folder
