"""The operator's commands: serve, migrate, index."""

from __future__ import annotations

import argparse
import copy
import logging
import re
import socket
import sys
from typing import TYPE_CHECKING, Any

from bot.cli.common import Commands, UsageError
from bot.config import DEMO_DIR, Settings

if TYPE_CHECKING:
    from bot.demo_shop.server import DemoShop
    from bot.runtime import Runtime


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    from bot.runtime import build_runtime

    shop_port = None
    if settings.actions is not None and settings.company_api_url is None:
        # The embedded default: the demo company's own API, a system apart that the bot reaches
        # over HTTP as it would a real company's. It starts once the bot's own start-up checks
        # (database, Redis, model) have passed, so that their errors stay one line.
        shop_port = free_port()
        settings = settings.model_copy(update={"company_api_url": f"http://127.0.0.1:{shop_port}"})
    runtime = build_runtime(settings)
    shop = None
    try:
        if shop_port is not None:
            shop = start_demo_shop(settings, shop_port)
            print(
                f"The demo shop's API (Brightcart's orders) answers at {shop.url}", file=sys.stderr
            )
        serve(settings, runtime, args)
    finally:
        runtime.close()
        if shop is not None:
            shop.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def start_demo_shop(settings: Settings, port: int) -> DemoShop:
    from bot.demo_shop.server import ShopStartError
    from bot.demo_shop.server import start_demo_shop as start
    from bot.demo_shop.store import ShopDataError

    settings.demo_shop_dir.mkdir(parents=True, exist_ok=True)
    try:
        return start(
            host="127.0.0.1",
            port=port,
            data_file=DEMO_DIR / "shop" / "orders.yaml",
            db_path=settings.demo_shop_dir / "shop.db",
            api_token=settings.company_api_token.get_secret_value(),
        )
    except (ShopStartError, ShopDataError) as error:
        # The shop stands apart from cxagent and knows nothing of its errors.
        raise UsageError(f"the demo shop could not start: {error}") from None


def serve(settings: Settings, runtime: Runtime, args: argparse.Namespace) -> None:
    import uvicorn

    from bot.app import create_app
    from bot.support.accounts import FIRST_ADMIN

    first_password = runtime.staff.ensure_first_admin()
    if first_password is not None:
        print(
            f"No staff accounts yet: created {FIRST_ADMIN!r} with the password {first_password}\n"
            "Log in to the console at /console and set a new password under Staff.",
            file=sys.stderr,
        )
    uvicorn.run(
        create_app(settings, runtime),
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_level=settings.log_level,
        log_config=uvicorn_log_config(),
    )


# `token=` and what follows up to the next `&`, space or quote: what an old client's WebSocket
# address (`/ws?token=…`) would otherwise write to the access log.
_TOKEN_IN_URL = re.compile(r"(token=)[^&\s\"']+", re.IGNORECASE)


class MaskTokens(logging.Filter):
    """Masks any ``token=…`` in a log line. The widget and the console never put a token in
    an address, but an old or hand-written client may, and log files travel further than the
    tokens' owners would like."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_URL.sub(r"\1***", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_URL.sub(r"\1***", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging, with tokens masked in its access lines and in the WebSocket lines
    it logs as errors' logger."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["mask_tokens"] = {"()": MaskTokens}
    for name in ("uvicorn.access", "uvicorn.error"):
        config["loggers"][name].setdefault("filters", []).append("mask_tokens")
    return config


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
