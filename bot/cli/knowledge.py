"""The knowledge base's YAML import and export: kb import, kb export.

The database holds the knowledge base the console edits; the YAML file is how it comes in (a
first start imports the configured file) and goes out. Running workers pick an import up at
their next check of the knowledge base's revision (CXAGENT_KNOWLEDGE_CHECK_SECONDS).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.common import Commands, UsageError, database_sessions
from bot.config import Settings


def cmd_import(settings: Settings, args: argparse.Namespace) -> None:
    from bot.actions.spec import load_actions
    from bot.support.knowledge import KnowledgeService
    from retrieval.knowledge_base import load_knowledge_base

    knowledge_base = load_knowledge_base(args.file)  # checked whole before anything is written
    # The actions its entries name must be the company's, as in the console.
    actions = load_actions(settings.actions) if settings.actions else None
    with database_sessions(settings) as sessions:
        counts = KnowledgeService(sessions, actions=actions).import_entries(knowledge_base.entries)
    print(
        f"imported {args.file}: {counts['created']} entries created, {counts['changed']} "
        f"changed, {counts['retired']} retired, {counts['unchanged']} unchanged",
        file=sys.stderr,
    )


def cmd_export(settings: Settings, args: argparse.Namespace) -> None:
    from bot.support.knowledge import KnowledgeService
    from retrieval.knowledge_base import dump_knowledge_base

    with database_sessions(settings) as sessions:
        snapshot = KnowledgeService(sessions).snapshot()
    if not snapshot.entries:
        raise UsageError(
            "the database holds no knowledge base yet: `cxagent serve` imports "
            "CXAGENT_KNOWLEDGE_BASE at its first start, or run `cxagent kb import FILE`"
        )
    text = dump_knowledge_base(snapshot.entries)
    if str(args.file) == "-":
        sys.stdout.write(text)
    else:
        args.file.write_text(text, encoding="utf-8")
    print(
        f"exported {len(snapshot.entries)} entries (revision {snapshot.revision}) to {args.file}",
        file=sys.stderr,
    )


def add_commands(commands: Commands) -> None:
    kb = commands.add_parser(
        "kb", help="the knowledge base: import a YAML file into the database, export it to one"
    )
    what = kb.add_subparsers(dest="kb_command", required=True, metavar="COMMAND")
    imported = what.add_parser(
        "import",
        help="make the database's knowledge base the file's: new entries created, changed ones "
        "versioned, missing ones retired (each change recorded as an import)",
    )
    imported.add_argument("file", type=Path)
    imported.set_defaults(handler=cmd_import)
    exported = what.add_parser(
        "export", help="write the live entries (not the retired) as YAML; `-` for stdout"
    )
    exported.add_argument("file", type=Path)
    exported.set_defaults(handler=cmd_export)
