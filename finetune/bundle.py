"""A model bundle: a folder that holds a trained NLU model and says what it is.

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
import torch

from finetune.modeling import MultiTaskModel, load_base, softmax
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


class NLUBundle:
    """A trained model ready to predict, with what describes it."""

    def __init__(self, model: MultiTaskModel, info: BundleInfo) -> None:
        self.model = model.eval()
        self.info = info

    def logits(
        self, texts: list[str], batch_size: int = 64
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Intent logits (n, intents) and sentiment logits (n, 3) or None."""
        intents, sentiments = [], []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                _, intent, sentiment = self.model(texts[start : start + batch_size])
                intents.append(intent.float().numpy())
                if sentiment is not None:
                    sentiments.append(sentiment.float().numpy())
        return np.concatenate(intents), (np.concatenate(sentiments) if sentiments else None)

    def predict(self, texts: list[str]) -> list[Prediction]:
        return self.predictions(*self.logits(texts))

    def predictions(
        self, intent_logits: np.ndarray, sentiment_logits: np.ndarray | None
    ) -> list[Prediction]:
        return predictions(self.info, intent_logits, sentiment_logits)

    def save(self, directory: Path, adapter_model: Any) -> None:
        """``adapter_model`` is the peft-wrapped encoder before merging (it saves the adapter)."""
        from safetensors.torch import save_file

        directory.mkdir(parents=True, exist_ok=True)
        adapter_model.save_pretrained(str(directory / ADAPTER_DIR))
        (directory / ADAPTER_DIR / "README.md").unlink(missing_ok=True)
        heads = {
            f"intent.{name}": tensor.detach().contiguous()
            for name, tensor in self.model.intent_head.state_dict().items()
        }
        if self.model.sentiment_head is not None:
            heads.update(
                {
                    f"sentiment.{name}": tensor.detach().contiguous()
                    for name, tensor in self.model.sentiment_head.state_dict().items()
                }
            )
        save_file(heads, str(directory / HEADS_FILE))
        document = json.dumps(self.info.__dict__, indent=2, sort_keys=True)
        (directory / BUNDLE_FILE).write_text(document, encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, base_model: str | None = None) -> NLUBundle:
        """Load onto the base model the bundle names (or ``base_model``); refuse another one."""
        from peft import PeftModel
        from safetensors.torch import load_file

        from retrieval.encoder import resolve_model_path, weights_hash

        info = read_info(directory)
        base_path = resolve_model_path(base_model or info.base_model)
        fingerprint = weights_hash(base_path)
        if fingerprint != info.base_fingerprint:
            raise BundleError(
                f"the bundle in {directory} was trained on {info.base_model} "
                f"(weights {info.base_fingerprint[:12]}…), but {base_path} has weights "
                f"{fingerprint[:12]}…; load it onto the base model it was trained on"
            )
        encoder, tokenizer = load_base(base_path)
        encoder = PeftModel.from_pretrained(
            encoder, str(directory / ADAPTER_DIR)
        ).merge_and_unload()
        model = MultiTaskModel(
            encoder,
            tokenizer,
            info.intent_labels,
            info.sentiment_labels,
            info.max_length,
            info.head_layers,
        )
        heads = load_file(str(directory / HEADS_FILE))
        model.intent_head.load_state_dict(
            {"weight": heads["intent.weight"], "bias": heads["intent.bias"]}
        )
        if model.sentiment_head is not None:
            model.sentiment_head.load_state_dict(
                {"weight": heads["sentiment.weight"], "bias": heads["sentiment.bias"]}
            )
        return cls(model, info)


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
