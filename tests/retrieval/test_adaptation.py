"""Fitting the encoder to a knowledge base: the batches and the contrastive loss."""

from __future__ import annotations

import random
from pathlib import Path

import torch

from retrieval.adaptation import KnowledgeBaseBatches, _epoch_batches, contrastive_loss
from retrieval.knowledge_base import load_knowledge_base


def test_batches_use_every_question_once_and_never_one_entry_twice(mini_kb_path: Path) -> None:
    entries = list(load_knowledge_base(mini_kb_path).entries)
    batches = _epoch_batches(entries, batch_size=3, rng=random.Random(1))
    anchors = [anchor for batch in batches for _, anchor in batch]
    assert sorted(anchors) == sorted(q for e in entries for q in e.questions)
    assert all(len({p for p, _ in batch}) == len(batch) <= 3 for batch in batches)


def test_batches_pair_each_question_with_its_own_entry_and_go_on_forever(
    mini_kb_path: Path,
) -> None:
    knowledge_base = load_knowledge_base(mini_kb_path)
    owner = {q: e for e in knowledge_base.entries for q in e.questions}
    batches = KnowledgeBaseBatches(knowledge_base, batch_size=2, seed=3)
    questions = sum(len(e.questions) for e in knowledge_base.entries)
    seen = []
    for _ in range(questions * 2):  # more batches than one pass holds
        anchors, positives, answers = batches.next()
        for anchor, positive, answer in zip(anchors, positives, answers, strict=True):
            entry = owner[anchor]
            assert positive in entry.questions and answer == (entry.fallback or entry.answer)
        seen.extend(anchors)
    assert set(seen) == set(owner)


def test_the_loss_is_low_when_questions_sit_by_their_answers() -> None:
    batch = (["a1", "b1"], ["a2", "b2"], ["a3", "b3"])
    near = {"a": torch.tensor([1.0, 0.0]), "b": torch.tensor([0.0, 1.0])}

    def aligned(texts: list[str]) -> torch.Tensor:
        return torch.stack([near[text[0]] for text in texts])

    def swapped(texts: list[str]) -> torch.Tensor:
        vectors = aligned(texts)
        return vectors if texts[0].endswith("1") else vectors.flip(0)

    assert contrastive_loss(aligned, batch, 0.05) < 0.01
    assert contrastive_loss(swapped, batch, 0.05) > 10
