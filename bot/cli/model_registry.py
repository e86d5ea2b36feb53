"""`cxagent models …`: the ML engineer's model registry (bot.models_registry). A trained bundle
is registered as a version, measured on the company's fixed test set, promoted to serving when
it is no worse than what serves (or forced, on the record), and rolled back."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.cli.common import Commands, database_sessions
from bot.config import Settings
from bot.models_registry import TEST_SET_ROLES, ModelRegistry, PromotionRefused

# Exit code of a refused promotion: the command worked and said no (2 is a usage error).
REFUSED = 1
MEASURES = ("intent_accuracy", "oos_recall", "sentiment_macro_recall", "retrieval_recall_at_1")


@contextmanager
def opened_registry(settings: Settings) -> Iterator[ModelRegistry]:
    with database_sessions(settings) as sessions:
        yield ModelRegistry(settings.model_registry, sessions, settings.nlu_bundle)


def cmd_test_set(settings: Settings, args: argparse.Namespace) -> None:
    files = {role: getattr(args, role) for role in TEST_SET_ROLES}
    with opened_registry(settings) as registry:
        digest = registry.name_test_set(files, args.by)
    print(f"test set {digest[:12]} in {settings.model_registry}; versions are measured on it")


def cmd_register(settings: Settings, args: argparse.Namespace) -> None:
    with opened_registry(settings) as registry:
        record = registry.register(args.bundle, args.by)
    print(record.version)
    print(f"registered {args.bundle} as {record.version} (a candidate)", file=sys.stderr)


def cmd_list(settings: Settings, args: argparse.Namespace) -> None:
    with opened_registry(settings) as registry:
        records = registry.records()
        corrections = {r.version: registry.corrections_since(r.version) for r in records}
        serving = registry.serving_version()
    if args.json:
        print(json.dumps([record.__dict__ for record in records], indent=2, default=str))
        return
    columns = ["version", "status", "registered", "by", *MEASURES, "corrections since"]
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for record in records:
        measures = (record.evaluation or {}).get("measures", {})
        cells = [
            record.version,
            record.status,
            record.registered_at[:16].replace("T", " "),
            record.registered_by,
            *(f"{measures[name]:.4f}" if name in measures else "" for name in MEASURES),
            str(corrections[record.version]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    print("\n".join(lines))
    if serving is None:
        print(f"serving: CXAGENT_NLU_BUNDLE ({settings.nlu_bundle})", file=sys.stderr)


def cmd_evaluate(settings: Settings, args: argparse.Namespace) -> None:
    with opened_registry(settings) as registry:
        measures = registry.evaluate(args.version, again=args.again)
    print(json.dumps(measures, indent=2))


def cmd_promote(settings: Settings, args: argparse.Namespace) -> int:
    with opened_registry(settings) as registry:
        try:
            comparison = registry.promote(args.version, args.by, force=args.force)
        except PromotionRefused as refusal:
            print(refusal.comparison.table())
            print(f"cxagent models promote: refused: {refusal}", file=sys.stderr)
            return REFUSED
    print(comparison.table())
    forced = " (forced past: " + comparison.worse + ")" if comparison.worse else ""
    print(
        f"promoted {args.version} by {args.by}{forced}; every worker serves it within "
        f"{settings.model_check_seconds:g} s and the time to load it",
        file=sys.stderr,
    )
    return 0


def cmd_rollback(settings: Settings, args: argparse.Namespace) -> None:
    with opened_registry(settings) as registry:
        back = registry.rollback(args.by)
    print(f"rolled back by {args.by}: serving {back or 'CXAGENT_NLU_BUNDLE'}", file=sys.stderr)


def cmd_history(settings: Settings, args: argparse.Namespace) -> None:
    with opened_registry(settings) as registry:
        history = registry.history()
    for change in history:
        forced = " forced" if change.forced else ""
        print(
            f"{change.at:%Y-%m-%d %H:%M:%S} {change.action}{forced} by {change.by}: "
            f"{change.previous or 'CXAGENT_NLU_BUNDLE'} -> {change.version or 'CXAGENT_NLU_BUNDLE'}"
        )


def add_commands(commands: Commands) -> None:
    models = commands.add_parser(
        "models", help="the model registry: register, evaluate, promote and roll back versions"
    )
    actions = models.add_subparsers(dest="action", required=True, metavar="ACTION")

    def by(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--by", default=getpass.getuser(), help="who does it, for the record (default: you)"
        )

    test_set = actions.add_parser(
        "test-set", help="name the fixed test set every version is measured on (copied in)"
    )
    test_set.add_argument(
        "--intent-data", type=Path, required=True, help="text,intent (oos rows included)"
    )
    test_set.add_argument("--sentiment-data", type=Path, help="text,sentiment")
    test_set.add_argument("--knowledge-base", type=Path, help="whose questions retrieval searches")
    test_set.add_argument(
        "--retrieval-queries", type=Path, help="text,entry_id: questions and the entry they ask"
    )
    by(test_set)
    test_set.set_defaults(handler=cmd_test_set)

    register = actions.add_parser("register", help="add a trained bundle as a candidate version")
    register.add_argument("bundle", type=Path, help="the bundle folder (`cxagent train --output`)")
    by(register)
    register.set_defaults(handler=cmd_register)

    listing = actions.add_parser(
        "list", help="versions: status, evaluation, corrections collected since"
    )
    listing.add_argument("--json", action="store_true", help="the whole records, as JSON")
    listing.set_defaults(handler=cmd_list)

    evaluate = actions.add_parser("evaluate", help="measure a version on the test set")
    evaluate.add_argument("version")
    evaluate.add_argument("--again", action="store_true", help="measure even if measured")
    evaluate.set_defaults(handler=cmd_evaluate)

    promote = actions.add_parser(
        "promote", help="serve a version if it is no worse than what serves (the metric table)"
    )
    promote.add_argument("version")
    promote.add_argument(
        "--force", action="store_true", help="promote a worse version anyway (recorded)"
    )
    by(promote)
    promote.set_defaults(handler=cmd_promote)

    rollback = actions.add_parser("rollback", help="serve again what served before")
    by(rollback)
    rollback.set_defaults(handler=cmd_rollback)

    history = actions.add_parser("history", help="every promotion and rollback, oldest first")
    history.set_defaults(handler=cmd_history)
