"""Everything a running service holds: database, knowledge base, encoder, index, services.

Built once per process (``build_runtime``), before the web server starts, so that a database
that is down or a stale index is reported at start-up rather than at the first request. The
knowledge base and its retriever are then swapped whenever an editor changes the knowledge base
(bot.support.knowledge_sync, ``Runtime.serve_retriever``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.actions.runner import ActionRunner
from bot.actions.spec import ActionCatalog, load_actions
from bot.analytics.alerts import AlertService
from bot.analytics.dashboard import DashboardService
from bot.analytics.privacy import PrivacyService
from bot.analytics.profiles import ProfileService
from bot.analytics.retention import RetentionSchedule
from bot.analytics.satisfaction import SatisfactionService
from bot.config import Settings, warn_about_identity
from bot.conversation.escalation import load_escalation_rules
from bot.conversation.policy import Thresholds
from bot.conversation.service import ChatService
from bot.conversation.spelling import Speller
from bot.live.events import EventHub, RedisEventHub
from bot.models_registry import ModelRegistry
from bot.serving_swap import ModelFollower, follow_registry, registry_of
from bot.storage.db import check_database, create_db_engine, create_session_factory, migrate
from bot.support.accounts import StaffService
from bot.support.knowledge import KnowledgeService, knowledge_base_of
from bot.support.knowledge_sync import KnowledgeSync
from bot.support.service import SupportService
from finetune.bundle_format import BundleError, BundleInfo
from finetune.onnx_runtime import load_exported
from finetune.reading import MessageReader
from retrieval.encoder import Encoder, SentenceEncoder
from retrieval.knowledge_base import KnowledgeBase, KnowledgeBaseError, load_knowledge_base
from retrieval.retriever import Retriever, load_or_build_index, shipped_index_dir

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    knowledge_base: KnowledgeBase
    encoder: Encoder
    retriever: Retriever
    chat: ChatService
    staff: StaffService
    support: SupportService
    satisfaction: SatisfactionService
    alerts: AlertService
    events: EventHub
    dashboard: DashboardService
    # Calls the company's API for actions; None without actions or without the API's address.
    runner: ActionRunner | None
    knowledge: KnowledgeService
    # Keeps the retriever on the database's latest knowledge base (started by build_runtime).
    knowledge_sync: KnowledgeSync | None = None
    # The intents the NLU bundle knows, beside the knowledge base's, for intent corrections.
    model_intents: frozenset[str] = frozenset()
    # Swaps in the model the registry promotes (bot.serving_swap); None with an injected encoder.
    model_follower: ModelFollower | None = None
    # Erases what has passed the retention period; None without one.
    retention: RetentionSchedule | None = None

    def serve_retriever(self, retriever: Retriever) -> None:
        """Put a retriever over a new knowledge base in service. Each holder is switched by one
        assignment, so a turn in flight keeps what it read, and the next turn reads the new."""
        speller = Speller.of(retriever.knowledge_base)
        intents = frozenset(self.model_intents | set(retriever.knowledge_base.intents))
        self.retriever, self.knowledge_base = retriever, retriever.knowledge_base
        self.chat.retriever, self.chat.speller = retriever, speller
        self.support.known_intents = intents

    def close(self) -> None:
        # The model follower first: a swap under way goes through the knowledge sync.
        if self.model_follower is not None:
            self.model_follower.close()
        if self.knowledge_sync is not None:
            self.knowledge_sync.close()
        if self.runner is not None:
            self.runner.close()
        if self.retention is not None:
            self.retention.close()
        self.events.close()
        self.engine.dispose()


def build_runtime(settings: Settings, encoder: Encoder | None = None) -> Runtime:
    """Raises DatabaseUnavailable, KnowledgeBaseError, EscalationRulesError, ModelNotFound,
    BundleError, EventHubUnavailable or an index error, each with a message fit to show as it
    is."""
    # A connection for each request thread, and one each for the knowledge base's sync thread
    # and the retention purge's.
    engine = create_db_engine(settings.database_url, pool_size=settings.request_threads + 2)
    events: EventHub | None = None
    registry: ModelRegistry | None = None
    serving: Path | None = None
    try:
        check_database(engine)
        if settings.auto_migrate:
            migrate(engine)
        # Checked before the model loads: a wrong Redis address should not cost a minute.
        events = RedisEventHub(settings.redis_url) if settings.redis_url else EventHub()
        sessions = create_session_factory(engine)
        # The database holds the knowledge base; the YAML file fills it the first time.
        actions = load_actions(settings.actions) if settings.actions else ActionCatalog()
        knowledge = KnowledgeService(sessions, events, actions)
        imported = _knowledge_base_file(settings, needed=knowledge.revision() == 0)
        if imported is not None:
            knowledge.import_if_empty(imported)
        snapshot = knowledge.snapshot()
        knowledge_base = knowledge_base_of(snapshot, imported)
        rules = load_escalation_rules(settings.escalation_rules)
        if encoder is None:
            registry = registry_of(settings, sessions)
            serving, encoder = registry_encoder(settings, registry)
        bundle_info = served_bundle_info(encoder)
        if bundle_info is not None:
            _warn_if_fitted_to_another_knowledge_base(bundle_info, knowledge_base)
        index = load_or_build_index(
            knowledge_base,
            encoder,
            settings.index_dir,
            settings.index_type,
            rebuild=settings.rebuild_stale_index,
            shipped=shipped_index_dir(settings.knowledge_base),
        )
        retriever = Retriever(knowledge_base, encoder, index)
    except Exception:
        if events is not None:
            events.close()
        engine.dispose()
        raise
    runner = (
        ActionRunner(settings.company_api_url, settings.company_api_token.get_secret_value())
        if settings.company_api_url and actions.actions
        else None
    )
    if actions.actions and runner is None:
        logger.warning(
            "actions are configured but no company API (CXAGENT_COMPANY_API_URL): they will "
            "answer that they cannot be used; `cxagent serve` starts the demo shop's API"
        )
    warn_about_identity(settings)
    chat = ChatService(
        engine=engine,
        sessions=sessions,
        retriever=retriever,
        nlu=encoder if isinstance(encoder, MessageReader) else None,
        thresholds=Thresholds(intent=settings.intent_threshold, answer=settings.answer_threshold),
        rules=rules,
        max_message_chars=settings.max_message_chars,
        identity_secret=(
            settings.identity_secret.get_secret_value() if settings.identity_secret else None
        ),
        actions=actions,
        runner=runner,
        profiles=ProfileService(sessions),
        events=events,
    )
    logger.info(
        "ready: %d knowledge-base entries, %d index rows, encoder %s",
        len(knowledge_base),
        len(index.keys),
        encoder.name,
    )
    model_intents = set(bundle_info.intent_labels) if bundle_info is not None else set()
    satisfaction = SatisfactionService(sessions, events)
    support = SupportService(
        sessions=sessions,
        max_message_chars=settings.max_message_chars,
        known_intents=frozenset(model_intents | set(knowledge_base.intents)),
        satisfaction=satisfaction,
        events=events,
        actions=actions,
        runner=runner,
        identity_secret=chat.identity_secret,
    )
    runtime = Runtime(
        settings,
        engine,
        sessions,
        knowledge_base,
        encoder,
        retriever,
        chat,
        StaffService(sessions, events),
        support,
        satisfaction,
        AlertService(sessions),
        events,
        DashboardService(sessions, satisfaction),
        runner,
        knowledge,
        model_intents=frozenset(model_intents),
    )
    runtime.knowledge_sync = KnowledgeSync(
        knowledge,
        events,
        retriever,
        snapshot.revision,
        runtime.serve_retriever,
        imported=imported,
        index_type=settings.index_type,
        check_seconds=settings.knowledge_check_seconds,
    )
    runtime.knowledge_sync.start()
    if settings.retention_days is not None:
        privacy = PrivacyService(sessions, settings.retention_days, events=events)
        runtime.retention = RetentionSchedule(privacy, settings.purge_every_seconds)
        runtime.retention.start()
    if registry is not None:
        runtime.model_follower = follow_registry(
            runtime, registry, serving, served_encoder, served_bundle_info
        )
    return runtime


def _knowledge_base_file(settings: Settings, needed: bool) -> KnowledgeBase | None:
    """The YAML file's knowledge base. Once the database has one, the file only tells whether
    the database's is still the file's (whose index may be shipped): a file that is gone or
    broken by then is a warning, not a reason to refuse to start."""
    try:
        return load_knowledge_base(settings.knowledge_base)
    except KnowledgeBaseError as error:
        if needed:
            raise
        logger.warning("serving the database's knowledge base; its YAML file: %s", error)
        return None


def registry_encoder(settings: Settings, registry: ModelRegistry) -> tuple[Path | None, Encoder]:
    """The bundle `cxagent serve` serves and its encoder: the version promoted in the model
    registry, else CXAGENT_NLU_BUNDLE."""
    serving = registry.serving_bundle()
    return serving, served_encoder(settings.model_copy(update={"nlu_bundle": serving}))


def served_encoder(settings: Settings) -> Encoder:
    """The NLU bundle's encoder (its ONNX export or PyTorch, as ``inference_runtime`` says), or
    with no bundle configured the plain base model."""
    if settings.nlu_bundle is None:
        return SentenceEncoder(settings.base_model)
    if settings.inference_runtime != "pytorch":
        exported = load_exported(
            settings.nlu_bundle,
            settings.base_model,
            settings.inference_threads,
            fp32=settings.inference_runtime == "onnx-fp32",
        )
        if exported is not None:
            return exported
        if settings.inference_runtime != "auto":
            raise BundleError(
                f"CXAGENT_INFERENCE_RUNTIME={settings.inference_runtime}, but "
                f"{settings.nlu_bundle} has no current ONNX export: run `cxagent export-onnx` (or "
                "leave the runtime on auto)"
            )
    # PyTorch is imported only here: a process served by ONNX Runtime never loads it (a quarter
    # of a gigabyte and seconds of start-up in each worker).
    import torch

    from finetune.serving import BundleEncoder

    if settings.inference_threads is not None:
        torch.set_num_threads(settings.inference_threads)
    return BundleEncoder(settings.nlu_bundle, settings.base_model)


def served_bundle_info(encoder: Encoder) -> BundleInfo | None:
    """What describes the served NLU bundle, whichever runtime serves it (each has ``info``);
    None for the plain base model."""
    info = getattr(encoder, "info", None)
    return info if isinstance(info, BundleInfo) else None


def _warn_if_fitted_to_another_knowledge_base(
    info: BundleInfo, knowledge_base: KnowledgeBase
) -> None:
    # A bundle fitted to an older knowledge base still works, only less well on new entries.
    fitted_to = info.data.get("knowledge_base_hash")
    if fitted_to != knowledge_base.content_hash:
        fitted = "to an earlier knowledge base" if fitted_to else "to no knowledge base"
        logger.warning(
            "the NLU bundle's encoder was fitted %s; retrain it with `cxagent train "
            "--knowledge-base` for the best retrieval",
            fitted,
        )
