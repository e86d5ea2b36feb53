"""What the NLU model makes of a message, and what the chat service needs of a model that reads
messages. Kept free of PyTorch so that the service's logic imports light."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

OOS_LABEL = "oos"
SENTIMENT_LABELS = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class Prediction:
    intent: str
    intent_confidence: float
    out_of_scope: bool
    sentiment: str | None
    sentiment_score: float | None  # p(positive) - p(negative), in [-1, 1]


@runtime_checkable
class MessageReader(Protocol):
    """An encoder that also reads messages (finetune.serving.BundleEncoder is one)."""

    def read(self, text: str) -> tuple[np.ndarray, Prediction]:
        """The message's retrieval vector and the model's prediction."""
        ...
