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
    """An encoder that also reads messages (finetune.serving.BundleEncoder and
    finetune.onnx_runtime.OnnxBundle are two)."""

    def read_many(self, texts: list[str]) -> list[tuple[np.ndarray, Prediction]]:
        """Each message's retrieval vector and the model's prediction, in one forward pass."""
        ...
