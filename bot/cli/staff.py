"""The support staff's accounts: add-staff."""

from __future__ import annotations

import argparse
import sys

from bot.cli.common import Commands, database_sessions
from bot.config import Settings


def cmd_add_staff(settings: Settings, args: argparse.Namespace) -> None:
    import getpass

    from bot.support.accounts import Role, StaffService

    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.username}: ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    with database_sessions(settings) as sessions:
        member = StaffService(sessions).create_account(
            args.username, password, Role(args.role), args.name
        )
    print(f"{member.role} account {member.username!r} created (id {member.id})")


def add_commands(commands: Commands) -> None:
    add_staff = commands.add_parser(
        "add-staff",
        help="create a console account; the password is asked for (or read from stdin)",
    )
    add_staff.add_argument("username")
    add_staff.add_argument("--role", choices=["agent", "editor", "admin"], default="agent")
    add_staff.add_argument("--name", help="the name colleagues see (default: the username)")
    add_staff.set_defaults(handler=cmd_add_staff)
