"""Real conversations back into training data: the messages staff corrected and the ones the
model was unsure of, as a CSV that `cxagent train --intent-data` reads.

Columns: ``text,intent,source,predicted_intent,confidence,message_id,created_at``; training
reads only ``text`` and ``intent``. ``source`` is ``corrected`` (a person set the intent: train
on it as it is) or ``low_confidence`` (``intent`` is the model's own guess: a person should check
it, fix it or delete the row before training on it). The text is as stored, with personal data
already redacted.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from bot.messages import MessageRole
from bot.storage.models import Message
from finetune.reading import OOS_LABEL

COLUMNS = ("text", "intent", "source", "predicted_intent", "confidence", "message_id", "created_at")


@dataclass(frozen=True)
class ExportSummary:
    corrected: int
    low_confidence: int
    duplicates_skipped: int


def export_training_data(
    sessions: sessionmaker[Session],
    output: Path,
    below: float,
    include_low_confidence: bool = True,
) -> ExportSummary:
    """Write the CSV; ``below`` is the confidence under which an uncorrected message counts as
    one the model was unsure of (out-of-scope readings count too, as ``oos``)."""
    unsure = or_(Message.intent_confidence < below, Message.out_of_scope.is_(True))
    corrected = Message.corrected_intent.is_not(None)
    wanted = or_(corrected, unsure) if include_low_confidence else corrected
    with sessions() as session:
        messages = session.scalars(
            select(Message).where(Message.role == MessageRole.CUSTOMER, wanted).order_by(Message.id)
        ).all()
    counts = {"corrected": 0, "low_confidence": 0, "duplicates": 0}
    seen: set[tuple[str, str]] = set()
    output.parent.mkdir(parents=True, exist_ok=True)
    # Written to a side file first: a half-written export never replaces a good one.
    partial = output.with_name(output.name + ".partial")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for message in messages:
            if message.corrected_intent is not None:
                intent, source = message.corrected_intent, "corrected"
            else:
                intent = OOS_LABEL if message.out_of_scope else (message.intent or OOS_LABEL)
                source = "low_confidence"
            key = (" ".join(message.text.lower().split()), intent)
            if key in seen:
                counts["duplicates"] += 1
                continue
            seen.add(key)
            counts[source] += 1
            confidence = message.intent_confidence
            writer.writerow(
                (
                    message.text,
                    intent,
                    source,
                    message.intent or "",
                    "" if confidence is None else f"{confidence:.3f}",
                    message.id,
                    message.created_at.isoformat(),
                )
            )
    partial.replace(output)
    return ExportSummary(counts["corrected"], counts["low_confidence"], counts["duplicates"])
