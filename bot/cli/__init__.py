"""The `cxagent` command: one parser assembled from the commands of each audience.

- the operator (`serve`): serve, migrate, index
- whoever manages the console's accounts (`staff`): add-staff
- the ML engineer (`models`): train, evaluate, split-data, export-training-data,
  evaluate-retrieval; (`model_registry`): models test-set, register, list, evaluate, promote,
  rollback, history
- the analyst (`analytics`): fit-satisfaction, refresh-profiles, fit-churn, segment
- the operator and the company's developer (`actions`): actions check
- whoever answers customers' privacy requests (`customers`): customer export, customer
  erase, purge
- whoever keeps the knowledge base (`knowledge`): kb import, kb export
- the operator (`worker`): worker, which runs the retraining jobs started from the console

Errors a person can act on (`CxagentError`) become one line and exit code 2, here and only here;
a handler that returns a number exits with it (a refused promotion: 1).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from bot.cli import (
    actions,
    analytics,
    customers,
    knowledge,
    model_registry,
    models,
    serve,
    staff,
    worker,
)
from bot.cli.common import Handler
from bot.config import Settings, load_settings
from retrieval.errors import CxagentError

__all__ = ["build_parser", "configure_logging", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cxagent",
        description="cxagent: a conversational customer-experience agent. Settings come from "
        "CXAGENT_* environment variables (see the README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for audience in (
        serve,
        staff,
        models,
        model_registry,
        analytics,
        actions,
        customers,
        knowledge,
        worker,
    ):
        audience.add_commands(commands)
    return parser


def configure_logging(settings: Settings) -> None:
    # Libraries (faiss, alembic, transformers) narrate at INFO; only our own packages follow
    # CXAGENT_LOG_LEVEL, the rest speak up from WARNING.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for package in ("bot", "retrieval", "finetune"):
        logging.getLogger(package).setLevel(settings.log_level.upper())


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        settings = load_settings(os.environ if environ is None else environ)
        configure_logging(settings)
        code = handler(settings, args)
    except CxagentError as error:
        # Its message already says what is wrong and how to fix it: one line, no traceback.
        print(f"cxagent {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code or 0
