"""A customer's data on request, and the retention period: customer export, customer erase,
purge. Each is written to the record (privacy_records) as done from the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import Commands, UsageError, database_sessions
from bot.config import Settings

if TYPE_CHECKING:
    from bot.analytics.privacy import CustomerRef


def _ref(args: argparse.Namespace) -> CustomerRef:
    from bot.analytics.privacy import CustomerRef

    if args.external:
        return CustomerRef(external_id=args.customer)
    if not args.customer.isdigit():
        raise UsageError(
            f"{args.customer!r} is not an internal customer id (a number); add --external for "
            "the id the company's site knows the customer by"
        )
    return CustomerRef(int(args.customer))


def cmd_export(settings: Settings, args: argparse.Namespace) -> None:
    from bot.analytics.privacy import CLI, PrivacyService

    with database_sessions(settings) as sessions:
        document = PrivacyService(sessions).export(_ref(args), CLI)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return
    # The export is the customer's personal data: readable by its owner alone.
    descriptor = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(
        f"customer {document['customer']['id']}: {len(document.get('messages', []))} messages in "
        f"{len(document.get('conversations', []))} conversations written to {args.output}",
        file=sys.stderr,
    )


def cmd_erase(settings: Settings, args: argparse.Namespace) -> None:
    from bot.analytics.privacy import CLI, PrivacyService

    ref = _ref(args)
    with database_sessions(settings) as sessions:
        privacy = PrivacyService(sessions)
        if not args.yes:
            found = privacy.summary(ref)
            known_as = f", {found.external_id} on the site" if found.external_id else ""
            question = (
                f"Erase customer {found.id}{known_as}, with {found.conversations} "
                "conversation(s)? It cannot be undone. Type yes to erase: "
            )
            try:
                answer = input(question)
            except EOFError:
                answer = ""
            if answer.strip().lower() not in {"y", "yes"}:
                print("nothing erased", file=sys.stderr)
                return
        erased = privacy.erase(ref, CLI)
    rows = ", ".join(f"{table} {count}" for table, count in sorted(erased.rows.items()))
    print(f"customer {erased.customer_id} erased ({rows})")


def cmd_purge(settings: Settings, args: argparse.Namespace) -> None:
    from bot.analytics.privacy import CLI, PrivacyService

    if settings.retention_days is None:
        print("no retention period (CXAGENT_RETENTION_DAYS is not set): everything is kept")
        return
    with database_sessions(settings) as sessions:
        report = PrivacyService(sessions, settings.retention_days).purge(by=CLI)
    assert report.cutoff is not None
    print(
        f"retention {report.retention_days} days: erased {report.conversations} conversation(s) "
        f"last active before {report.cutoff.isoformat(timespec='seconds')} and "
        f"{report.profiles} profile(s)"
    )
    for erasure in report.erasures:
        rows = ", ".join(f"{table} {count}" for table, count in sorted(erasure.rows.items()))
        print(f"  customer {erasure.customer_id}: {rows}")


def add_commands(commands: Commands) -> None:
    customer = commands.add_parser(
        "customer", help="a customer's data on request: export it or erase it"
    )
    actions = customer.add_subparsers(dest="customer_command", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export", help="everything held about a customer, as one JSON document"
    )
    erase = actions.add_parser(
        "erase", help="erase everything that identifies a customer (asks to confirm)"
    )
    for action in (export, erase):
        action.add_argument("customer", metavar="ID", help="the customer's internal id")
        action.add_argument(
            "--external",
            action="store_true",
            help="ID is the id the company's site knows the customer by",
        )
    export.add_argument("--output", type=Path, help="write the JSON here (default: stdout)")
    export.set_defaults(handler=cmd_export)
    erase.add_argument("--yes", action="store_true", help="erase without asking")
    erase.set_defaults(handler=cmd_erase)
    commands.add_parser(
        "purge",
        help="erase conversations past the retention period (CXAGENT_RETENTION_DAYS) and the "
        "profiles left with none",
    ).set_defaults(handler=cmd_purge)
