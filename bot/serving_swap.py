"""Each serving process follows the model registry: a promotion or a rollback reaches it without
a restart and without a failed request.

A thread of its own checks the database's serving pointer (bot.models_registry) every
CXAGENT_MODEL_CHECK_SECONDS. When it names another bundle, the thread loads that bundle (its
ONNX export when current, as at start-up), builds or loads the knowledge-base index for its
encoder, and only then swaps the chat service's reader and retriever, on the inference thread
(retrieval.inference): every forward pass and search runs there, one batch at a time, so no
batch reads with one model and searches the other's index, a turn in flight finishes its pass on
the model it started with, and the next pass reads with the new one. Until the new model is
ready, the old one answers; if it fails to load, the old one keeps answering and the log says
why.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine

from bot.config import Settings
from bot.conversation.service import ChatService
from bot.models_registry import ModelRegistry
from bot.storage.db import create_session_factory
from bot.support.service import SupportService
from finetune.bundle import BundleInfo
from finetune.reading import MessageReader
from retrieval.encoder import Encoder
from retrieval.inference import run_inference
from retrieval.retriever import Retriever, load_or_build_index, shipped_index_dir

logger = logging.getLogger(__name__)


def registry_of(settings: Settings, engine: Engine) -> ModelRegistry:
    return ModelRegistry(
        settings.model_registry, create_session_factory(engine), settings.nlu_bundle
    )


class Runtime(Protocol):
    """What a swap changes of bot.runtime.Runtime (which builds and starts the follower)."""

    settings: Settings
    encoder: Encoder
    retriever: Retriever
    chat: ChatService
    support: SupportService


# bot.runtime's served_encoder and served_bundle_info, given here so as not to import it.
EncoderFor = Callable[[Settings], Encoder]
InfoOf = Callable[[Encoder], BundleInfo | None]


@dataclass(frozen=True)
class LoadedModel:
    bundle: Path | None
    encoder: Encoder
    retriever: Retriever


def load_model(runtime: Runtime, bundle: Path | None, encoder_for: EncoderFor) -> LoadedModel:
    """The bundle's encoder and a retriever over the knowledge base served now, built with it
    (the index is loaded if current, built and saved otherwise, as at start-up)."""
    settings = runtime.settings.model_copy(update={"nlu_bundle": bundle})
    encoder = encoder_for(settings)
    knowledge_base = runtime.retriever.knowledge_base
    index = load_or_build_index(
        knowledge_base,
        encoder,
        settings.index_dir,
        settings.index_type,
        shipped=shipped_index_dir(settings.knowledge_base),
    )
    return LoadedModel(bundle, encoder, Retriever(knowledge_base, encoder, index))


def serve_model(runtime: Runtime, loaded: LoadedModel, info_of: InfoOf) -> None:
    """Put a loaded model in service. Runs on the inference thread (see the module's
    docstring): between two batches, never during one."""

    def swap() -> None:
        runtime.encoder, runtime.retriever = loaded.encoder, loaded.retriever
        runtime.chat.nlu = loaded.encoder if isinstance(loaded.encoder, MessageReader) else None
        runtime.chat.retriever = loaded.retriever
        # Staff may correct a message to any intent the model now knows.
        info = info_of(loaded.encoder)
        model_intents = set(info.intent_labels) if info is not None else set()
        runtime.support.known_intents = frozenset(
            model_intents | set(loaded.retriever.knowledge_base.intents)
        )

    run_inference(swap)


class ModelFollower:
    """The thread that keeps one process on the registry's serving version."""

    def __init__(
        self,
        registry: ModelRegistry,
        serving: Path | None,
        load: Callable[[Path | None], LoadedModel],
        serve: Callable[[LoadedModel], None],
        check_seconds: float,
    ) -> None:
        """``serving``: the bundle this process serves now; ``load`` prepares another one (slow,
        on this thread), ``serve`` swaps it in."""
        self.registry = registry
        self.serving = serving
        self._load = load
        self._serve = serve
        self._check_seconds = check_seconds
        self._stop = threading.Event()
        # A bundle that failed to load is not tried again until the pointer moves (a list: the
        # bundle itself may be None, CXAGENT_NLU_BUNDLE's "none").
        self._failed: list[Path | None] = []
        self._thread = threading.Thread(
            target=self._run, name="cxagent-model-follower", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def check(self) -> bool:
        """Follow the pointer once: True if another model was put in service."""
        wanted = self.registry.serving_bundle()
        if wanted == self.serving or wanted in self._failed:
            return False
        logger.info("model registry: loading %s to serve it in place of %s", wanted, self.serving)
        try:
            loaded = self._load(wanted)
        except Exception:
            logger.exception("model registry: %s failed to load; the current model serves", wanted)
            self._failed = [wanted]
            return False
        self._serve(loaded)
        logger.info("model registry: now serving %s", wanted)
        self.serving, self._failed = wanted, []
        return True

    def _run(self) -> None:
        while not self._stop.wait(self._check_seconds):
            try:
                self.check()
            except Exception:
                # A database that is down for a moment: the next check tries again.
                logger.exception("model registry: the serving pointer could not be read")


def follow_registry(
    runtime: Runtime,
    registry: ModelRegistry,
    serving: Path | None,
    encoder_for: EncoderFor,
    info_of: InfoOf,
) -> ModelFollower:
    """Start following the registry in ``runtime``'s process, which serves ``serving`` now."""
    follower = ModelFollower(
        registry,
        serving,
        load=lambda bundle: load_model(runtime, bundle, encoder_for),
        serve=lambda loaded: serve_model(runtime, loaded, info_of),
        check_seconds=runtime.settings.model_check_seconds,
    )
    follower.start()
    return follower
