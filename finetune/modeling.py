"""The NLU model: one encoder with LoRA adapters, an intent head and a sentiment head.

The encoder is all-MiniLM-L6-v2 read the way sentence-transformers trained it: token vectors
mean-pooled over the attention mask and L2-normalised. The heads are linear layers on that
vector. (A sequence-classification head would read the [CLS] pooler, which sentence-transformers
never trained; starting from the mean-pooled vector starts from what the encoder is good at.)
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

# peft asks transformers 5 a deprecated question whenever it wraps or loads an adapter; the
# warning is about peft's code, not ours, and would otherwise greet every training and start.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(batch, tokens, dim), (batch, tokens) → (batch, dim), unit length."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return nn.functional.normalize(pooled, dim=-1)


class MultiTaskModel(nn.Module):
    """Encoder (optionally LoRA-wrapped) plus linear heads over the pooled sentence vector."""

    def __init__(
        self,
        encoder: nn.Module,
        tokenizer: Any,
        intent_labels: list[str],
        sentiment_labels: list[str] | None,
        max_length: int = 128,
        head_layers: int = 1,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.intent_labels = list(intent_labels)
        self.sentiment_labels = list(sentiment_labels) if sentiment_labels else None
        self.max_length = max_length
        self.head_layers = head_layers
        config: Any = encoder.config  # HF and peft-wrapped models alike
        dim = int(config.hidden_size) * head_layers
        self.intent_head = nn.Linear(dim, len(self.intent_labels))
        self.sentiment_head = (
            nn.Linear(dim, len(self.sentiment_labels)) if self.sentiment_labels else None
        )

    def encode(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(sentence vectors, head features): the last layer mean-pooled, as retrieval reads it,
        and the heads' input, the mean-pooled last ``head_layers`` layers side by side (lower
        layers keep wording the top layer has abstracted away; worth about a point of frozen
        BANKING77 accuracy, at no extra cost since the forward pass computes them anyway)."""
        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        return self.encode_tokens(batch["input_ids"], batch["attention_mask"])

    def encode_tokens(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``encode`` from token ids: the part of the pass that an exported graph holds."""
        mask = attention_mask
        output = self.encoder(
            input_ids=input_ids,
            attention_mask=mask,
            token_type_ids=torch.zeros_like(input_ids),
            output_hidden_states=self.head_layers > 1,
        )
        vectors = mean_pool(output.last_hidden_state, mask)
        if self.head_layers == 1:
            return vectors, vectors
        layers = output.hidden_states[-self.head_layers :]
        return vectors, torch.cat([mean_pool(hidden, mask) for hidden in layers], dim=-1)

    def forward(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(sentence vectors, intent logits, sentiment logits or None)."""
        vectors, features = self.encode(texts)
        sentiment = self.sentiment_head(features) if self.sentiment_head is not None else None
        return vectors, self.intent_head(features), sentiment

    def init_head(self, head: nn.Linear, weight: np.ndarray, bias: np.ndarray) -> None:
        with torch.no_grad():
            head.weight.copy_(torch.from_numpy(weight.astype(np.float32)))
            head.bias.copy_(torch.from_numpy(bias.astype(np.float32)))


def load_base(base_path: Path) -> tuple[nn.Module, Any]:
    from transformers import AutoModel, AutoTokenizer

    return AutoModel.from_pretrained(str(base_path)), AutoTokenizer.from_pretrained(str(base_path))
