"""A process's follower of the model registry: it loads and serves what the pointer names, once;
a bundle that fails to load leaves the current model serving and is not tried again until the
pointer moves; a swap and the knowledge base's syncs build on each other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.runtime import build_runtime
from bot.serving_swap import ModelFollower, swap_model
from bot.support.accounts import Role
from finetune.bundle_format import BundleInfo
from retrieval.encoder import Encoder
from tests.fakes import FakeReader
from tests.helpers.service import make_settings


class Pointer:
    """Stands in for the registry: the bundle it serves, as the test sets it."""

    def __init__(self, bundle: Path | None) -> None:
        self.bundle = bundle

    def serving_bundle(self) -> Path | None:
        return self.bundle


def follower(pointer: Pointer, broken: set[Path]) -> tuple[ModelFollower, list[str], list[Any]]:
    """A follower serving v1 whose swaps are noted: each tried (loads), each done (served)."""
    loads: list[str] = []
    served: list[Any] = []

    def swap(bundle: Path | None) -> None:
        loads.append(str(bundle))
        if bundle in broken:
            raise OSError(f"{bundle} is not readable")
        served.append(bundle)

    registry: Any = pointer
    return ModelFollower(registry, Path("v1"), swap, check_seconds=60), loads, served


def test_a_moved_pointer_is_loaded_and_served_once() -> None:
    pointer = Pointer(Path("v1"))
    following, loads, served = follower(pointer, set())
    assert following.check() is False and loads == []
    pointer.bundle = Path("v2")
    assert following.check() is True
    assert following.check() is False  # served already: not loaded again
    assert loads == ["v2"] and served == [Path("v2")]
    pointer.bundle = None  # rolled back to CXAGENT_NLU_BUNDLE
    assert following.check() is True and following.serving is None


def test_a_bundle_that_fails_to_load_leaves_the_current_one_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pointer = Pointer(Path("broken"))
    following, loads, served = follower(pointer, {Path("broken")})
    assert following.check() is False
    assert following.check() is False
    assert loads == ["broken"] and served == [] and following.serving == Path("v1")
    assert "broken failed to load; the current model serves" in caplog.text
    pointer.bundle = Path("v2")
    assert following.check() is True and following.serving == Path("v2")


def test_a_swapped_model_serves_with_the_knowledge_base_and_its_next_edit(
    sqlite_url: str, tmp_path: Path, mini_kb_path: Path
) -> None:
    """A swap replaces the reader and the retriever together, with an index of the entries
    served; the knowledge base's next edit is indexed with the new model, and the intents staff
    may correct to stay the new model's."""
    runtime = build_runtime(make_settings(sqlite_url, tmp_path, mini_kb_path), encoder=FakeReader())
    try:
        new = FakeReader(fingerprint="fake-v2")
        info = BundleInfo("bundled", "0" * 64, ["oos", "opening_hours"], None)

        def encoder_for(settings: Settings) -> Encoder:
            assert settings.nlu_bundle == Path("v2")
            return new

        swap_model(runtime, Path("v2"), encoder_for, lambda encoder: info)
        assert runtime.chat.nlu is new and runtime.encoder is new
        assert runtime.chat.retriever is runtime.retriever and runtime.retriever.encoder is new
        assert runtime.retriever.index.metadata.encoder_fingerprint == "fake-v2"
        assert runtime.knowledge_sync is not None
        assert runtime.knowledge_sync.retriever is runtime.retriever
        assert "opening_hours" in runtime.support.known_intents

        editor = runtime.staff.create_account("eve", "a long password", Role.EDITOR, "Eve")
        entry = {"id": "gift.wrap", "intent": "gift", "questions": ["gift wrap?"], "answer": "Yes."}
        runtime.knowledge.create(entry, editor)
        # Served once this returns: by this call, or by the process's own follower if the
        # edit's notice reached it first (either holds the sync's lock until it is done).
        runtime.knowledge_sync.sync()
        assert runtime.chat.retriever.encoder is new
        assert runtime.chat.retriever.index.keys[-1] == "gift.wrap"
        assert {"opening_hours", "gift"} <= runtime.support.known_intents
    finally:
        runtime.close()
