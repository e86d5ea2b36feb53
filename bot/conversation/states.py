"""A conversation's status and the moves between them.

    bot ──escalation──▶ waiting ──a person takes it──▶ with_agent
     │ ▲                   │                              ▲ │
     │ └──── handed back ──┴──────────────────────────────┼─┘
     └──────────────── a person steps in ─────────────────┘
    any of them ──closed (by a person or the customer)──▶ closed ──the customer writes again──▶ bot

While a person is waited for or has the conversation, the bot stays silent.
"""

from __future__ import annotations

from enum import StrEnum

from bot.errors import Conflict


class Status(StrEnum):
    BOT = "bot"
    WAITING = "waiting"
    WITH_AGENT = "with_agent"
    CLOSED = "closed"


ALLOWED: dict[Status, frozenset[Status]] = {
    # A person may also step in before any rule fires.
    Status.BOT: frozenset({Status.WAITING, Status.WITH_AGENT, Status.CLOSED}),
    Status.WAITING: frozenset({Status.WITH_AGENT, Status.BOT, Status.CLOSED}),
    Status.WITH_AGENT: frozenset({Status.BOT, Status.CLOSED}),
    Status.CLOSED: frozenset({Status.BOT}),
}
# A person is waited for or has the conversation: the bot does not answer.
BOT_SILENT = frozenset({Status.WAITING, Status.WITH_AGENT})


def move(current: str, target: Status) -> Status:
    """``target`` if the conversation may go there from ``current``; else Conflict naming both."""
    now = Status(current)
    if target not in ALLOWED[now]:
        expected = " or ".join(sorted(s.value for s in ALLOWED[now]))
        raise Conflict(f"the conversation is {now.value}; from there it can go to {expected}")
    return target
