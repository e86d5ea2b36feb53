"""Everything a running service holds: database, knowledge base, encoder, index, services.

Built once per process (``build_runtime``), before the web server starts, so that a database
that is down or a stale index is reported at start-up rather than at the first request.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.services.chat import ChatService
from bot.storage.db import check_database, create_db_engine, create_session_factory, migrate
from retrieval.adaptation import ADAPTATION_FILE
from retrieval.encoder import Encoder, SentenceEncoder
from retrieval.knowledge_base import KnowledgeBase, load_knowledge_base
from retrieval.retriever import Retriever, load_or_build_index

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

    def close(self) -> None:
        self.engine.dispose()


def build_runtime(settings: Settings, encoder: Encoder | None = None) -> Runtime:
    """Raises DatabaseUnavailable, KnowledgeBaseError, ModelNotFound or an index error, each
    with a message fit to show as it is."""
    engine = create_db_engine(settings.database_url)
    try:
        check_database(engine)
        if settings.auto_migrate:
            migrate(engine)
        knowledge_base = load_knowledge_base(settings.knowledge_base)
        if encoder is None:
            encoder = SentenceEncoder(settings.base_model, adapter=settings.retrieval_adapter)
            _warn_if_adapter_predates(settings, knowledge_base)
        index = load_or_build_index(
            knowledge_base,
            encoder,
            settings.index_dir,
            settings.index_type,
            rebuild=settings.rebuild_stale_index,
        )
        retriever = Retriever(knowledge_base, encoder, index)
    except Exception:
        engine.dispose()
        raise
    sessions = create_session_factory(engine)
    chat = ChatService(
        sessions,
        retriever,
        answer_threshold=settings.answer_threshold,
        max_message_chars=settings.max_message_chars,
    )
    logger.info(
        "ready: %d knowledge-base entries, %d index rows, encoder %s",
        len(knowledge_base),
        len(index.keys),
        encoder.name,
    )
    return Runtime(settings, engine, sessions, knowledge_base, encoder, retriever, chat)


def _warn_if_adapter_predates(settings: Settings, knowledge_base: KnowledgeBase) -> None:
    # An adapter fitted to an older knowledge base still works, only less well on new entries.
    if settings.retrieval_adapter is None:
        return
    record = json.loads((settings.retrieval_adapter / ADAPTATION_FILE).read_text(encoding="utf-8"))
    if record.get("knowledge_base_hash") != knowledge_base.content_hash:
        logger.warning(
            "the retrieval adapter was fitted to an earlier knowledge base; "
            "run `cxagent adapt-retrieval` to refit it"
        )
