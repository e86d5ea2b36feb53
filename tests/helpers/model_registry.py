"""A model registry whose versions are stand-in bundles with measures given by the test: what
the registry decides, without a model to load."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.models_registry import ModelRegistry
from finetune import accuracy_gate
from finetune.bundle_format import ADAPTER_DIR, BUNDLE_FILE, HEADS_FILE, BundleInfo
from tests.helpers.training import write


def fake_bundle(folder: Path, seed: str) -> Path:
    """A folder that reads as a bundle (its description and files), told apart by ``seed``, the
    first letter of which names its measures in ``measured_registry``."""
    folder.mkdir(parents=True)
    info = BundleInfo(
        base_model="bundled",
        base_fingerprint="0" * 64,
        intent_labels=["oos", "refund"],
        sentiment_labels=None,
        training={"epochs": 1, "seed": 13},
        data={"intent_hash": seed * 8, "intent_rows": 10},
    )
    (folder / BUNDLE_FILE).write_text(json.dumps(asdict(info)), encoding="utf-8")
    (folder / ADAPTER_DIR).mkdir()
    (folder / HEADS_FILE).write_bytes(seed.encode())
    return folder


def measured_registry(
    folder: Path, sessions: sessionmaker[Session], measures: dict[str, dict[str, float]]
) -> ModelRegistry:
    """A registry in ``folder`` with a two-row test set named, whose measurer answers from
    ``measures`` (the first letter of a fake bundle's seed → its measures)."""

    def measurer(bundle: Path, test: accuracy_gate.TestData) -> dict[str, float]:
        assert len(test.intents) == 2
        record = json.loads((bundle / BUNDLE_FILE).read_text())
        return measures[record["data"]["intent_hash"][:1]]

    registry = ModelRegistry(folder, sessions, None, measurer=measurer)
    folder.mkdir(parents=True, exist_ok=True)
    intents = write(
        folder.parent / "test.csv", [("refund me", "refund"), ("sing", "oos")], "intent"
    )
    registry.name_test_set({"intent_data": intents}, "ops")
    return registry
