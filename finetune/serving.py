"""The served model: one forward pass gives a message's retrieval vector, intent and sentiment.

A bundle's encoder (base model with its LoRA adapter merged) is also the retriever's encoder:
the knowledge-base index is built with it, and the sentence vector that the index is searched
with comes out of the same pass that feeds the heads. Serving a separate retrieval encoder
would double the model time of every chat turn.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from finetune.bundle import NLUBundle
from finetune.bundle_format import BundleInfo, vectors_fingerprint
from finetune.reading import Prediction
from retrieval.encoder import encode_in_length_order
from retrieval.inference import run_inference


class BundleEncoder:
    """An NLU bundle that is also an ``Encoder`` (retrieval.encoder) for the knowledge base."""

    def __init__(self, directory: Path, base_model: str | None = None, batch_size: int = 64):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        # Loading merges tensors, so it runs on the inference thread like everything else.
        self.bundle = run_inference(NLUBundle.load, directory, base_model)
        self.directory = directory
        self.batch_size = batch_size
        self._fingerprint = vectors_fingerprint(directory, self.bundle.info.base_fingerprint)
        config: Any = self.bundle.model.encoder.config
        self._dim = int(config.hidden_size)

    @property
    def info(self) -> BundleInfo:
        return self.bundle.info

    @property
    def name(self) -> str:
        return f"{self.bundle.info.base_model} + bundle {self.directory.name}"

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: list[str]) -> np.ndarray:
        return run_inference(self._encode, texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        with torch.inference_mode():
            return encode_in_length_order(
                texts, self.batch_size, lambda batch: self.bundle.model.encode(batch)[0].numpy()
            )

    def read_many(self, texts: list[str]) -> list[tuple[np.ndarray, Prediction]]:
        """Messages read together in one pass: each one's retrieval vector and what the heads
        make of it."""
        return run_inference(self._read_many, texts)

    def _read_many(self, texts: list[str]) -> list[tuple[np.ndarray, Prediction]]:
        with torch.inference_mode():
            vectors, intent, sentiment = self.bundle.model(texts)
        found = self.bundle.predictions(
            intent.numpy(), sentiment.numpy() if sentiment is not None else None
        )
        return list(zip(vectors.numpy(), found, strict=True))
