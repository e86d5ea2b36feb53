"""A model bundle loaded as a PyTorch model, ready to predict, and saved as a bundle
(finetune.bundle_format says what the folder holds)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from finetune.bundle_format import (
    ADAPTER_DIR,
    BUNDLE_FILE,
    HEADS_FILE,
    BundleError,
    BundleInfo,
    predictions,
    read_info,
)
from finetune.modeling import MultiTaskModel, load_base
from finetune.reading import Prediction


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
