"""Fitting the encoder to a knowledge base: a real (tiny) training run on the bundled model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from retrieval.adaptation import AdaptationConfig, _epoch_batches, train_retrieval_adapter
from retrieval.encoder import AdapterMismatch, ModelNotFound, SentenceEncoder
from retrieval.knowledge_base import load_knowledge_base

pytestmark = pytest.mark.real_model


def test_batches_use_every_question_once_and_never_one_entry_twice(mini_kb_path: Path) -> None:
    import random

    entries = list(load_knowledge_base(mini_kb_path).entries)
    batches = _epoch_batches(entries, batch_size=3, rng=random.Random(1))
    anchors = [anchor for batch in batches for _, anchor in batch]
    assert sorted(anchors) == sorted(q for e in entries for q in e.questions)
    assert all(len({p for p, _ in batch}) == len(batch) <= 3 for batch in batches)


def test_a_trained_adapter_saves_loads_and_changes_the_encoder(
    mini_kb_path: Path, tmp_path: Path
) -> None:
    knowledge_base = load_knowledge_base(mini_kb_path)
    output = tmp_path / "adapter"
    config = AdaptationConfig(epochs=1, batch_size=4, rank=2)
    record = train_retrieval_adapter(knowledge_base, "bundled", output, config, show_progress=False)
    assert record["knowledge_base_hash"] == knowledge_base.content_hash
    assert (output / "adapter_model.safetensors").stat().st_size < 200_000
    assert json.loads((output / "adaptation.json").read_text())["config"]["rank"] == 2

    texts = ["where is my parcel", "can I pay by card"]
    base = SentenceEncoder()
    adapted = SentenceEncoder(adapter=output)
    again = SentenceEncoder(adapter=output)
    assert adapted.fingerprint != base.fingerprint == SentenceEncoder().fingerprint
    assert not np.allclose(adapted.encode(texts), base.encode(texts))
    np.testing.assert_array_equal(adapted.encode(texts), again.encode(texts))
    assert np.allclose(np.linalg.norm(adapted.encode(texts), axis=1), 1.0, atol=1e-5)

    record_path = output / "adaptation.json"
    record_path.write_text(json.dumps({**record, "base_fingerprint": "0" * 64}))
    with pytest.raises(AdapterMismatch, match="retrain it with `cxagent adapt-retrieval`"):
        SentenceEncoder(adapter=output)


def test_missing_adapter_or_model_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="adapt-retrieval"):
        SentenceEncoder(adapter=tmp_path / "nothing")
    with pytest.raises(ModelNotFound, match="config.json"):
        SentenceEncoder(str(tmp_path))


def test_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="epochs=0"):
        AdaptationConfig(epochs=0)
    with pytest.raises(ValueError, match="learning_rate"):
        AdaptationConfig(learning_rate=2.0)
