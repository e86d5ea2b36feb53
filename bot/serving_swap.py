"""Each serving process follows the model registry: a promotion or a rollback reaches it without
a restart and without a failed request.

A thread of its own checks the database's serving pointer (bot.models_registry) every
CXAGENT_MODEL_CHECK_SECONDS. When it names another bundle, the thread loads that bundle (its
ONNX export when current, as at start-up), then, between two syncs of the knowledge base
(bot.support.knowledge_sync, so that neither undoes the other), builds or loads the index of
the knowledge base served now with the new encoder, and swaps the chat service's reader and
retriever on the inference thread (retrieval.inference): every forward pass and search runs
there, one batch at a time, so no batch reads with one model and searches the other's index, a
turn in flight finishes its pass on the model it started with, and the next pass reads with the
new one. Until the new model is ready, the old one answers; if it fails to load, the old one
keeps answering and the log says why.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.conversation.service import ChatService
from bot.models_registry import ModelRegistry
from bot.support.knowledge_sync import KnowledgeSync
from bot.support.service import SupportService
from finetune.bundle_format import BundleInfo
from finetune.reading import MessageReader
from retrieval.encoder import Encoder
from retrieval.inference import run_inference
from retrieval.retriever import Retriever, load_or_build_index, shipped_index_dir

logger = logging.getLogger(__name__)


def registry_of(settings: Settings, sessions: sessionmaker[Session]) -> ModelRegistry:
    return ModelRegistry(settings.model_registry, sessions, settings.nlu_bundle)


class Runtime(Protocol):
    """What a swap changes of bot.runtime.Runtime (which builds and starts the follower)."""

    settings: Settings
    encoder: Encoder
    retriever: Retriever
    chat: ChatService
    support: SupportService
    knowledge_sync: KnowledgeSync | None
    model_intents: frozenset[str]


# bot.runtime's served_encoder and served_bundle_info, given here so as not to import it.
EncoderFor = Callable[[Settings], Encoder]
InfoOf = Callable[[Encoder], BundleInfo | None]


def swap_model(
    runtime: Runtime, bundle: Path | None, encoder_for: EncoderFor, info_of: InfoOf
) -> None:
    """Load ``bundle`` (slow: done first, while the current model serves) and put it in
    service with an index of the knowledge base served now."""
    settings = runtime.settings.model_copy(update={"nlu_bundle": bundle})
    encoder = encoder_for(settings)
    info = info_of(encoder)
    model_intents = frozenset(info.intent_labels) if info is not None else frozenset()

    def change(current: Retriever) -> Retriever:
        # Between two knowledge-base syncs: the knowledge base cannot change meanwhile.
        knowledge_base = current.knowledge_base
        index = load_or_build_index(
            knowledge_base,
            encoder,
            settings.index_dir,
            settings.index_type,
            shipped=shipped_index_dir(settings.knowledge_base),
        )
        retriever = Retriever(knowledge_base, encoder, index)

        def swap() -> None:
            runtime.encoder, runtime.retriever = encoder, retriever
            runtime.chat.nlu = encoder if isinstance(encoder, MessageReader) else None
            runtime.chat.retriever = retriever
            # Staff may correct a message to any intent the model now knows.
            runtime.model_intents = model_intents
            runtime.support.known_intents = model_intents | set(knowledge_base.intents)

        run_inference(swap)
        return retriever

    if runtime.knowledge_sync is not None:
        runtime.knowledge_sync.swap(change)
    else:
        change(runtime.retriever)


class ModelFollower:
    """The thread that keeps one process on the registry's serving version."""

    def __init__(
        self,
        registry: ModelRegistry,
        serving: Path | None,
        swap: Callable[[Path | None], None],
        check_seconds: float,
    ) -> None:
        """``serving``: the bundle this process serves now; ``swap`` loads another one and puts
        it in service (slow, on this thread), or raises if it cannot load it."""
        self.registry = registry
        self.serving = serving
        self._swap = swap
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
            # A swap under way finishes first; it is never cut short.
            self._thread.join(timeout=60)

    def check(self) -> bool:
        """Follow the pointer once: True if another model was put in service."""
        wanted = self.registry.serving_bundle()
        if wanted == self.serving or wanted in self._failed:
            return False
        logger.info("model registry: loading %s to serve it in place of %s", wanted, self.serving)
        try:
            self._swap(wanted)
        except Exception:
            logger.exception("model registry: %s failed to load; the current model serves", wanted)
            self._failed = [wanted]
            return False
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
        swap=lambda bundle: swap_model(runtime, bundle, encoder_for, info_of),
        check_seconds=runtime.settings.model_check_seconds,
    )
    follower.start()
    return follower
