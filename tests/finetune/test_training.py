"""A tiny real training run on the bundled model: the command, the bundle, the report."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from finetune.bundle import NLUBundle
from finetune.bundle_format import BUNDLE_FILE, BundleError
from finetune.config import TrainingConfig
from finetune.data import LabelledTexts
from finetune.serving import BundleEncoder
from finetune.trainer import _sentiment_batches, train
from retrieval.encoder import SentenceEncoder
from tests.helpers.service import first_turn
from tests.helpers.training import INTENTS, write

pytestmark = pytest.mark.real_model


def test_the_bundle_describes_itself(trained: Path) -> None:
    info = json.loads((trained / "bundle" / BUNDLE_FILE).read_text())
    assert info["base_model"] == "bundled" and len(info["base_fingerprint"]) == 64
    assert info["intent_labels"] == ["oos", "password", "refund", "track_order"]
    assert info["sentiment_labels"] == ["negative", "neutral", "positive"]
    assert info["training"]["epochs"] == 1 and info["training"]["lora_rank"] == 2
    assert info["head_layers"] == 2
    assert info["data"]["intent_rows"] == 30 and len(info["data"]["intent_hash"]) == 64
    assert len(info["data"]["knowledge_base_hash"]) == 64
    assert {"torch", "transformers", "peft"} <= set(info["versions"])
    assert 0 <= info["oos_threshold"] < 1 and info["temperature"] > 0
    assert "accuracy" in info["metrics"]["validation"]["intent"]
    assert info["created_at"]
    size = sum(f.stat().st_size for f in (trained / "bundle").rglob("*") if f.is_file())
    assert size < 1_000_000  # adapter and heads only


def test_save_load_predict_are_identical(trained: Path) -> None:
    first = NLUBundle.load(trained / "bundle")
    again = NLUBundle.load(trained / "bundle")
    texts = ["where is my order", "I want a refund, this is awful", "tell me about the moon"]
    np.testing.assert_array_equal(first.logits(texts)[0], again.logits(texts)[0])
    predictions = first.predict(texts)
    assert [p.intent for p in predictions] == [p.intent for p in again.predict(texts)]
    assert all(0 <= p.intent_confidence <= 1 for p in predictions)
    assert all(p.sentiment in {"negative", "neutral", "positive"} for p in predictions)
    assert all(-1 <= (p.sentiment_score or 0) <= 1 for p in predictions)


def test_a_bundle_for_another_base_model_is_refused(trained: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "bundle"
    shutil.copytree(trained / "bundle", copy)
    info = json.loads((copy / BUNDLE_FILE).read_text())
    (copy / BUNDLE_FILE).write_text(json.dumps({**info, "base_fingerprint": "f" * 64}))
    with pytest.raises(BundleError, match="trained on bundled"):
        NLUBundle.load(copy)
    with pytest.raises(BundleError, match="not a model bundle"):
        NLUBundle.load(tmp_path)


def test_evaluate_writes_the_report_and_pictures(
    trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    test_intents = write(
        trained / "test_intents.csv",
        [("where's my parcel got to", "track_order"), ("refund please", "refund"),
         ("reset password", "password"), ("what's the time in Tokyo", "oos")],
        "intent",
    )  # fmt: skip
    test_sentiment = write(
        trained / "test_sentiment.csv",
        [("awful, really angry", "negative"), ("thanks, brilliant", "positive"),
         ("I ordered a rug", "neutral")],
        "sentiment",
    )  # fmt: skip
    report_dir = trained / "report"
    arguments = ["evaluate", "--model", str(trained / "bundle"), "--intent-data", str(test_intents),
                 "--sentiment-data", str(test_sentiment), "--report", str(report_dir)]  # fmt: skip
    assert main(arguments, environ={}) == 0
    report = json.loads((report_dir / "report.json").read_text())
    for key in ("accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "oos_precision"):
        assert 0 <= report["intent"][key] <= 1
    for key in ("accuracy", "macro_recall", "macro_f1"):
        assert 0 <= report["sentiment"][key] <= 1
    for picture in ("intent_confusion.png", "reliability.png", "sentiment_confusion.png"):
        assert (report_dir / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| intent | precision |" in (report_dir / "report.md").read_text()
    assert json.loads(capsys.readouterr().out)["intent"]["accuracy"] == report["intent"]["accuracy"]


def test_training_is_deterministic_with_a_seed() -> None:
    data = LabelledTexts(
        [t for ts in INTENTS.values() for t in ts],
        [label for label, ts in INTENTS.items() for _ in ts],
    )
    config = TrainingConfig(epochs=1, batch_size=8, lora_rank=2, seed=5)
    first, _ = train(config, data, show_progress=False)
    second, _ = train(config, data, show_progress=False)
    texts = ["where is my refund", "locked out"]
    np.testing.assert_allclose(first.logits(texts)[0], second.logits(texts)[0], atol=1e-5)


def test_bad_training_arguments_and_data_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    intents = write(tmp_path / "i.csv", INTENTS, "intent")
    bad_sentiment = write(tmp_path / "s.csv", [("fine", "meh")], "sentiment")
    base = ["train", "--intent-data", str(intents), "--output", str(tmp_path / "b")]
    assert main([*base, "--sentiment-data", str(bad_sentiment)], environ={}) == 2
    assert "row 2: unknown sentiment 'meh'" in capsys.readouterr().err
    assert main([*base, "--epochs", "-1"], environ={}) == 2
    assert "epochs=-1" in capsys.readouterr().err


def test_the_served_encoder_reads_a_message_in_one_pass(trained: Path) -> None:
    served = BundleEncoder(trained / "bundle")
    texts = ["where is my parcel", "reset my password please"]
    vectors = served.encode(texts)
    assert vectors.shape == (2, served.dim) == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    ((vector, prediction),) = served.read_many(texts[:1])
    np.testing.assert_allclose(vector, vectors[0], atol=1e-5)
    expected = served.bundle.predict([texts[0]])[0]
    assert (prediction.intent, prediction.sentiment) == (expected.intent, expected.sentiment)
    assert prediction.intent_confidence == pytest.approx(expected.intent_confidence, abs=1e-5)
    assert prediction.sentiment_score == pytest.approx(expected.sentiment_score, abs=1e-5)
    # The vectors change with the adapter, so an index built with the base model goes stale.
    assert served.fingerprint == BundleEncoder(trained / "bundle").fingerprint
    assert served.fingerprint != SentenceEncoder().fingerprint


def test_the_service_stores_what_a_real_bundle_reads(trained: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from bot.app import create_app
    from bot.config import Settings
    from bot.runtime import build_runtime
    from bot.storage.models import Message

    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/cx.db",
        knowledge_base=trained / "kb.yaml",
        index_dir=tmp_path / "index",
        nlu_bundle=trained / "bundle",
    )
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime)) as client:
            turn = first_turn(client, "I forgot my password, this is awful").json()
        assert turn["reply"]["decision"] in {"intent", "answer", "not_sure", "out_of_scope"}
        with runtime.sessions() as session:
            stored = session.scalars(select(Message).where(Message.role == "customer")).one()
        assert stored.intent in {"oos", "password", "refund", "track_order"}
        assert 0 < (stored.intent_confidence or 0) <= 1
        assert stored.out_of_scope is not None
        assert stored.sentiment in {"negative", "neutral", "positive"}
        assert -1 <= (stored.sentiment_score or 0) <= 1
    finally:
        runtime.close()


def test_sentiment_batches_cycle_fewer_rows_than_a_batch() -> None:
    # Fewer sentiment rows than a batch (a small company's data) used to fail the training.
    batches = _sentiment_batches(3, 8, random.Random(1))
    for _ in range(3):
        batch = next(batches)
        assert len(batch) == 8 and set(batch) == {0, 1, 2}
