"""Actions in the company's systems, declared in YAML (``spec``) and run over HTTP (``runner``).

The chat loop (``bot.conversation``) imports this package; it imports nothing of ``bot`` but
the errors, so it can be tested against any HTTP server.
"""

from __future__ import annotations

from bot.actions.runner import (
    ActionResult,
    ActionRunner,
    CircuitBreaker,
    Outcome,
    answer_text,
)
from bot.actions.spec import (
    ActionCatalog,
    ActionsError,
    ActionSpec,
    Answers,
    HttpCall,
    SlotSpec,
    load_actions,
)

__all__ = [
    "ActionCatalog",
    "ActionResult",
    "ActionRunner",
    "ActionSpec",
    "ActionsError",
    "CircuitBreaker",
    "Answers",
    "HttpCall",
    "Outcome",
    "SlotSpec",
    "answer_text",
    "load_actions",
]
