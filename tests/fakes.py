"""A fake encoder: hashed words and character trigrams, so similar texts get similar vectors
without loading a model."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from finetune.reading import Prediction


class FakeEncoder:
    def __init__(self, dim: int = 256, fingerprint: str = "fake-v1") -> None:
        self._dim = dim
        self._fingerprint = fingerprint
        self.calls = 0

    @property
    def name(self) -> str:
        return "fake-hashing-encoder"

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def dim(self) -> int:
        return self._dim

    def _features(self, text: str) -> list[str]:
        words = re.findall(r"[a-z0-9]+", text.lower())
        grams = [w[i : i + 3] for w in words for i in range(max(1, len(w) - 2))]
        return words + words + grams

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        vectors = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                digest = hashlib.md5(feature.encode()).digest()
                sign = 1.0 if digest[4] & 1 else -1.0
                vectors[row, int.from_bytes(digest[:4], "little") % self._dim] += sign
            norm = np.linalg.norm(vectors[row])
            if norm > 0:
                vectors[row] /= norm
        return vectors


class FakeReader(FakeEncoder):
    """A fake NLU model: an intent from keywords (confidence 0.9, or 0.3 when two intents'
    keywords appear), out of scope on any word in ``OFF_TOPIC``, sentiment from a few words."""

    INTENT_WORDS = {
        "track_order": ("parcel", "order", "shipped"),
        "return_policy": ("return", "send back"),
        "payment_methods": ("pay", "card"),
        "password_reset": ("password", "log in"),
        "human_agent": ("human", "real person", "an agent"),
    }
    OFF_TOPIC = ("weather", "football", "recipe")

    def read_many(self, texts: list[str]) -> list[tuple[np.ndarray, Prediction]]:
        return [self.read(text) for text in texts]

    def read(self, text: str) -> tuple[np.ndarray, Prediction]:
        lowered = text.lower()
        found = [
            intent
            for intent, words in self.INTENT_WORDS.items()
            if any(word in lowered for word in words)
        ]
        negative = any(
            word in lowered for word in ("angry", "awful", "useless", "still", "ridiculous")
        )
        positive = any(word in lowered for word in ("thanks", "great", "love"))
        sentiment = "negative" if negative else "positive" if positive else "neutral"
        prediction = Prediction(
            intent=found[0] if found else "track_order",
            intent_confidence=0.9 if len(found) == 1 else 0.3,
            out_of_scope=any(word in lowered for word in self.OFF_TOPIC),
            sentiment=sentiment,
            sentiment_score={"negative": -0.8, "neutral": 0.0, "positive": 0.8}[sentiment],
        )
        return self.encode([text])[0], prediction
