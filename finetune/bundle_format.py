"""A model bundle's format, without the model: the folder's files, what ``bundle.json`` says,
and what the heads' logits mean as the bundle calibrates them. Free of PyTorch, so that a
service serving the bundle on ONNX Runtime never imports it (finetune.bundle loads the model).

Files: ``bundle.json`` (base model and its weight hash, labels, thresholds, training arguments,
data hashes, package versions, validation metrics, creation time), ``adapter/`` (the LoRA
adapter, as peft saves it) and ``heads.safetensors`` (the intent and sentiment heads). A bundle
is some hundreds of kilobytes; the base model comes from its own package.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from finetune.reading import OOS_LABEL, Prediction
from retrieval.errors import CxagentError

BUNDLE_FILE = "bundle.json"
ADAPTER_DIR = "adapter"
HEADS_FILE = "heads.safetensors"
FORMAT_VERSION = 1


class BundleError(CxagentError, ValueError):
    """A bundle is missing, incomplete, or does not fit the base model it is loaded onto."""


@dataclass
class BundleInfo:
    base_model: str
    base_fingerprint: str
    intent_labels: list[str]
    sentiment_labels: list[str] | None
    temperature: float = 1.0
    oos_threshold: float = 0.0
    oos_method: str = "none"
    max_length: int = 128
    head_layers: int = 1
    training: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    format_version: int = FORMAT_VERSION


def vectors_fingerprint(directory: Path, base_fingerprint: str) -> str:
    """What a bundle's retrieval vectors depend on: the base weights and the adapter only, so a
    bundle whose heads were retrained keeps its index (and an fp32 export, which computes the
    same vectors, shares it)."""
    digest = hashlib.sha256(base_fingerprint.encode())
    for weights in sorted((directory / ADAPTER_DIR).glob("*.safetensors")):
        digest.update(weights.read_bytes())
    return digest.hexdigest()


def predictions(
    info: BundleInfo, intent_logits: np.ndarray, sentiment_logits: np.ndarray | None
) -> list[Prediction]:
    """What the heads' logits say about each message, as ``info`` calibrates them (shared by
    every runtime that serves a bundle)."""
    intent_probs = softmax(intent_logits, info.temperature)
    labels = info.intent_labels
    sentiment_probs = softmax(sentiment_logits) if sentiment_logits is not None else None
    found = []
    for row, probs in enumerate(intent_probs):
        best = int(probs.argmax())
        sentiment = score = None
        if sentiment_probs is not None and info.sentiment_labels:
            s_probs = sentiment_probs[row]
            sentiment = info.sentiment_labels[int(s_probs.argmax())]
            by_label = dict(zip(info.sentiment_labels, s_probs, strict=True))
            score = float(by_label.get("positive", 0.0) - by_label.get("negative", 0.0))
        found.append(
            Prediction(
                intent=labels[best],
                intent_confidence=float(probs[best]),
                out_of_scope=is_out_of_scope(probs, labels, info.oos_threshold),
                sentiment=sentiment,
                sentiment_score=score,
            )
        )
    return found


def read_info(directory: Path) -> BundleInfo:
    path = directory / BUNDLE_FILE
    missing = [
        name for name in (BUNDLE_FILE, ADAPTER_DIR, HEADS_FILE) if not (directory / name).exists()
    ]
    if missing:
        raise BundleError(
            f"{directory} is not a model bundle: {', '.join(missing)} missing "
            "(train one with `cxagent train`)"
        )
    try:
        info = BundleInfo(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as error:
        raise BundleError(f"{path} is unreadable: {error}") from None
    if info.format_version != FORMAT_VERSION:
        raise BundleError(
            f"{path} has format {info.format_version}; this version reads {FORMAT_VERSION}"
        )
    return info


def is_out_of_scope(probs: np.ndarray, labels: list[str], threshold: float) -> bool:
    """Out of scope when ``oos`` wins, or when no in-scope intent reaches ``threshold``."""
    best = int(probs.argmax())
    if labels[best] == OOS_LABEL:
        return True
    return bool(probs[best] < threshold)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True))
