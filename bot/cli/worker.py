"""The operator's `cxagent worker`: runs the retraining jobs admins start on the console's Models
page (bot.retraining), beside `cxagent serve`, on the same settings and Redis."""

from __future__ import annotations

import argparse

from bot.cli.common import Commands
from bot.config import Settings


def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    from bot.retraining import work

    work(settings, burst=args.burst)


def add_commands(commands: Commands) -> None:
    worker = commands.add_parser(
        "worker",
        help="run the retraining jobs started from the console (an RQ worker on CXAGENT_REDIS_URL)",
    )
    worker.add_argument(
        "--burst", action="store_true", help="stop once the queue is empty instead of waiting"
    )
    worker.set_defaults(handler=cmd_worker)
