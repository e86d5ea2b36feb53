"""The operator's commands: serve, migrate, index."""

from __future__ import annotations

import argparse
import sys

from bot.cli.common import Commands
from bot.config import Settings


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from bot.app import create_app
    from bot.runtime import build_runtime
    from bot.support.accounts import FIRST_ADMIN

    runtime = build_runtime(settings)
    first_password = runtime.staff.ensure_first_admin()
    if first_password is not None:
        print(
            f"No staff accounts yet: created {FIRST_ADMIN!r} with the password {first_password}\n"
            "Log in to the console at /console and set a new password under Staff.",
            file=sys.stderr,
        )
    app = create_app(settings, runtime)
    try:
        uvicorn.run(
            app,
            host=args.host or settings.host,
            port=args.port or settings.port,
            log_level=settings.log_level,
        )
    finally:
        runtime.close()


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    from bot.storage.db import check_database, create_db_engine, migrate, safe_url

    engine = create_db_engine(settings.database_url)
    check_database(engine)
    migrate(engine)
    print(f"database at {safe_url(settings.database_url)} is at the newest schema")


def cmd_index(settings: Settings, args: argparse.Namespace) -> None:
    from bot.runtime import served_encoder
    from retrieval.knowledge_base import load_knowledge_base
    from retrieval.retriever import build_index

    knowledge_base = load_knowledge_base(settings.knowledge_base)
    encoder = served_encoder(settings)
    print(f"encoding the {len(knowledge_base)} entries with {encoder.name}", file=sys.stderr)
    index = build_index(knowledge_base, encoder, settings.index_type)
    index.save(settings.index_dir)
    print(
        f"indexed {len(index.keys)} rows ({settings.index_type}) into {settings.index_dir}",
        file=sys.stderr,
    )


def add_commands(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="start the service (API, WebSocket, /docs)")
    serve.add_argument("--host", help="overrides CXAGENT_HOST")
    serve.add_argument("--port", type=int, help="overrides CXAGENT_PORT")
    serve.set_defaults(handler=cmd_serve)

    commands.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        handler=cmd_migrate
    )
    commands.add_parser("index", help="build the FAISS index over the knowledge base").set_defaults(
        handler=cmd_index
    )
