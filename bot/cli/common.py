"""What the commands of every audience share: the handler shape, usage errors, database
sessions."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, TypeAlias

from bot.config import Settings
from retrieval.errors import CxagentError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

# A handler returns None when it succeeded, or the exit code of a refusal it printed.
Handler: TypeAlias = Callable[[Settings, argparse.Namespace], int | None]
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class UsageError(CxagentError, ValueError):
    """A command's arguments do not fit together."""


def database_sessions(settings: Settings) -> AbstractContextManager[sessionmaker[Session]]:
    """Sessions on the configured database, migrated if allowed, for a command that works on it
    (a service's refusal, such as too little data or a short password, is a CxagentError)."""
    from bot.storage.db import migrated_sessions

    return migrated_sessions(settings.database_url, settings.auto_migrate)
