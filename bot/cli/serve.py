"""The operator's commands: serve, migrate, index."""

from __future__ import annotations

import argparse
import copy
import logging
import os
import re
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from bot.cli.common import Commands, UsageError, database_sessions
from bot.config import DEMO_DIR, Settings

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.demo_shop.server import DemoShop
    from bot.runtime import Runtime


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    from bot.cli.workers import check_port_free
    from bot.runtime import build_runtime

    check_workers(settings, args.workers)
    host, port = args.host or settings.host, args.port or settings.port
    try:
        # Before the model loads, not after: a port taken is said at once.
        check_port_free(host, port)
    except OSError as error:
        raise cannot_listen(host, port, error) from None
    shop_port = None
    if settings.actions is not None and settings.company_api_url is None:
        # The embedded default: the demo company's own API, a system apart that the bot reaches
        # over HTTP as it would a real company's. It starts once the bot's own start-up checks
        # (database, Redis, model) have passed, so that their errors stay one line.
        shop_port = free_port()
        settings = settings.model_copy(update={"company_api_url": f"http://127.0.0.1:{shop_port}"})
    if args.workers > 1 and settings.inference_threads is None:
        threads = threads_per_worker(args.workers)
        settings = settings.model_copy(update={"inference_threads": threads})
    if args.workers > 1:
        prepare_workers(settings)
        with demo_shop(settings, shop_port):
            serve_workers(settings, args)
        return
    runtime = build_runtime(settings)
    try:
        with demo_shop(settings, shop_port):
            serve(settings, runtime, args)
    finally:
        runtime.close()


def threads_per_worker(workers: int) -> int:
    """The model's threads in each of ``workers`` processes: each runs its own forward passes,
    so the cores are shared out, not each process taking all."""
    return max(1, (os.cpu_count() or 1) // workers)


def prepare_workers(settings: Settings) -> None:
    """What several workers need done once, before they start: the runtime built here, so that
    start-up errors stay one line, the database is migrated once and the index built once for
    the workers to load; then let go (each worker builds its own, and this process only
    supervises them)."""
    from bot.runtime import build_runtime

    runtime = build_runtime(settings)
    try:
        ensure_first_admin(runtime)
    finally:
        runtime.close()


@contextmanager
def demo_shop(settings: Settings, port: int | None) -> Iterator[None]:
    """The demo company's API on ``port`` while the service runs; nothing without a port."""
    if port is None:
        yield
        return
    shop = start_demo_shop(settings, port)
    print(f"The demo shop's API (Brightcart's orders) answers at {shop.url}", file=sys.stderr)
    try:
        yield
    finally:
        shop.stop()


def check_workers(settings: Settings, workers: int) -> None:
    """Several processes need what they can share: Redis for live events and rate limits (each
    process's own would see only its own customers and staff), and a database server (SQLite
    takes one writer at a time, so the processes would queue on its file)."""
    from sqlalchemy.engine import make_url

    from bot.config import load_settings

    if workers < 1:
        raise UsageError(f"--workers {workers}: give 1 or more")
    if workers == 1:
        return
    if settings.redis_url is None:
        raise UsageError(
            f"--workers {workers} needs CXAGENT_REDIS_URL: live events and rate limits must "
            "be shared by the processes"
        )
    if load_settings(os.environ) != settings:
        # Checked before the model loads, not after: the workers read the environment alone.
        raise UsageError(
            "--workers reads each process's settings from the environment, and these settings "
            "did not come from it"
        )
    if make_url(settings.database_url).get_backend_name() == "sqlite":
        logger.warning(
            "--workers %d on SQLite: the processes take turns to write to one file; use "
            "PostgreSQL (CXAGENT_DATABASE_URL) for throughput",
            workers,
        )


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


def app_from_environment() -> FastAPI:
    """The app of one of `cxagent serve --workers N`'s processes: each reads the settings from
    the environment it inherited, and builds its own runtime (model, index, pools) at start."""
    from bot.app import create_app
    from bot.cli import configure_logging
    from bot.config import load_settings

    settings = load_settings(os.environ)
    configure_logging(settings)
    return create_app(settings)


def ensure_first_admin(runtime: Runtime) -> None:
    from bot.support.accounts import FIRST_ADMIN

    first_password = runtime.staff.ensure_first_admin()
    if first_password is not None:
        print(
            f"No staff accounts yet: created {FIRST_ADMIN!r} with the password {first_password}\n"
            "Log in to the console at /console and set a new password under Staff.",
            file=sys.stderr,
        )


def serve_workers(settings: Settings, args: argparse.Namespace) -> None:
    """``args.workers`` processes sharing one port, the one with the fewest open connections
    taking the next (bot.cli.workers), each building its own runtime from the environment
    (check_workers made sure the settings came from it), which is given what this process
    decided: the demo shop's address and the inference threads."""
    from bot.cli.workers import supervise

    os.environ.update(
        {
            "CXAGENT_INFERENCE_THREADS": str(settings.inference_threads),
            **(
                {"CXAGENT_COMPANY_API_URL": settings.company_api_url}
                if settings.company_api_url
                else {}
            ),
        }
    )
    host, port = args.host or settings.host, args.port or settings.port
    print(f"starting {args.workers} worker processes on http://{host}:{port}", file=sys.stderr)
    try:
        supervise(
            host,
            port,
            args.workers,
            uvicorn_logging(settings),
            hung_after=settings.worker_timeout_seconds,
        )
    except OSError as error:  # taken since cmd_serve looked
        raise cannot_listen(host, port, error) from None


def cannot_listen(host: str, port: int, error: OSError) -> UsageError:
    return UsageError(f"cannot listen on {host}:{port}: {error.strerror or error}")


def serve(settings: Settings, runtime: Runtime, args: argparse.Namespace) -> None:
    import uvicorn

    from bot.app import create_app

    ensure_first_admin(runtime)
    uvicorn.run(
        create_app(settings, runtime),
        host=args.host or settings.host,
        port=args.port or settings.port,
        **uvicorn_logging(settings),
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


def uvicorn_logging(settings: Settings) -> dict[str, Any]:
    """uvicorn's logging options for ``settings``: its level, its access log on or off, and the
    log configuration below."""
    return {
        "log_level": settings.log_level,
        "access_log": settings.access_log,
        "log_config": uvicorn_log_config(),
    }


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
    from bot.runtime import registry_encoder
    from bot.serving_swap import registry_of
    from bot.support.knowledge import KnowledgeService, knowledge_base_of
    from retrieval.knowledge_base import load_knowledge_base
    from retrieval.retriever import build_index, load_or_build_index, shipped_index_dir

    # The knowledge base served is the database's (the YAML file fills an empty one).
    imported = load_knowledge_base(settings.knowledge_base)
    with database_sessions(settings) as sessions:
        knowledge = KnowledgeService(sessions)
        knowledge.import_if_empty(imported)
        knowledge_base = knowledge_base_of(knowledge.snapshot(), imported)
        # For the model `serve` will serve: a version promoted in the registry, as it does.
        _, encoder = registry_encoder(settings, registry_of(settings, sessions))
    if args.force:
        print(f"encoding the {len(knowledge_base)} entries with {encoder.name}", file=sys.stderr)
        index = build_index(knowledge_base, encoder, settings.index_type)
        index.save(settings.index_dir)
    else:
        # Run by the install command after export-onnx: an index that is current (for the
        # served graph and this knowledge base) is kept, so running it again costs nothing.
        index = load_or_build_index(
            knowledge_base,
            encoder,
            settings.index_dir,
            settings.index_type,
            shipped=shipped_index_dir(settings.knowledge_base),
        )
    print(
        f"{len(index.keys)} rows ({settings.index_type}) in {settings.index_dir}, "
        f"for {encoder.name}",
        file=sys.stderr,
    )


def add_commands(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="start the service (API, WebSocket, /docs)")
    serve.add_argument("--host", help="overrides CXAGENT_HOST")
    serve.add_argument("--port", type=int, help="overrides CXAGENT_PORT")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes, each with its own model (default 1; more need CXAGENT_REDIS_URL, and "
        "PostgreSQL for throughput)",
    )
    serve.set_defaults(handler=cmd_serve)

    commands.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        handler=cmd_migrate
    )
    index = commands.add_parser(
        "index",
        help="build the FAISS index over the knowledge base for the served model (kept when "
        "current)",
    )
    index.add_argument("--force", action="store_true", help="build it again even if current")
    index.set_defaults(handler=cmd_index)
