"""The ONNX Runtime export of a real (tiny) bundle: the command, the accuracy gate, serving."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from finetune.accuracy_gate import TOLERANCE_POINTS, worse_than
from finetune.bundle_format import BUNDLE_FILE, BundleError, BundleInfo, read_info
from finetune.onnx_runtime import (
    FP32_FILE,
    INT8_FILE,
    ONNX_DIR,
    REPORT_FILE,
    OnnxBundle,
    load_exported,
    read_report,
)
from finetune.serving import BundleEncoder
from tests.helpers.service import first_turn
from tests.helpers.training import INTENTS, OOS, SENTIMENT, write

pytestmark = pytest.mark.real_model

MESSAGES = ["where is my parcel", "I forgot my password, this is awful", "refund please thanks"]


@pytest.fixture(scope="module")
def exported(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's tiny bundle, exported with `cxagent export-onnx`."""
    import shutil

    folder = tmp_path_factory.mktemp("exported")
    bundle = folder / "bundle"
    shutil.copytree(trained / "bundle", bundle)
    asked = [
        ("where has my parcel got to", "track_order.where"),
        ("can I pay by paypal", "payment.methods"),
    ]
    queries = write(folder / "queries.csv", asked, "entry_id")
    arguments = [
        "export-onnx", "--model", str(bundle),
        "--intent-data", str(write(folder / "intents.csv", {**INTENTS, "oos": OOS}, "intent")),
        "--sentiment-data", str(write(folder / "sentiment.csv", SENTIMENT, "sentiment")),
        "--knowledge-base", str(trained / "kb.yaml"),
        "--retrieval-queries", str(queries),
    ]  # fmt: skip
    assert main(arguments, environ={}) == 0
    return bundle


def test_the_export_measures_each_runtime_beside_pytorch(exported: Path) -> None:
    report = read_report(exported)
    assert report is not None
    measures = {"intent_accuracy", "oos_recall", "sentiment_macro_recall", "retrieval_recall_at_1"}
    assert set(report.scores["pytorch"]) == measures
    # fp32 is the same graph: the same scores.
    assert report.scores["onnx-fp32"] == pytest.approx(report.scores["pytorch"], abs=1e-9)
    assert {"onnx-int8", "onnx-int8-per-channel"} & set(report.scores)
    assert (exported / ONNX_DIR / FP32_FILE).exists()
    if report.served == INT8_FILE:
        served = next(
            name
            for name in report.scores
            if name.startswith("onnx-int8") and name not in report.refused
        )
        assert not worse_than(report.scores[served], report.scores["pytorch"])
    else:
        # Every quantisation tried was refused, with the measure that failed, and is not on disk.
        assert set(report.refused) == {"onnx-int8", "onnx-int8-per-channel"}
        assert all("against" in why for why in report.refused.values())
        assert not (exported / ONNX_DIR / INT8_FILE).exists()
    assert report.test_rows["retrieval_queries"] == 2


def test_exporting_a_current_export_again_does_nothing(
    exported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    graph = exported / ONNX_DIR / FP32_FILE
    written = graph.stat().st_mtime_ns
    # No test data needed: nothing is exported or measured.
    assert main(["export-onnx", "--model", str(exported)], environ={}) == 0
    assert "is current" in capsys.readouterr().err
    assert graph.stat().st_mtime_ns == written
    assert main(["export-onnx", "--model", str(exported), "--force"], environ={}) == 2
    assert "--intent-data is needed" in capsys.readouterr().err


def test_train_exports_what_it_trained_when_given_test_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "bundle"
    arguments = [
        "train",
        "--intent-data", str(write(tmp_path / "intents.csv", INTENTS, "intent")),
        "--oos-data", str(write(tmp_path / "oos.csv", [(t, "oos") for t in OOS], "intent")),
        "--output", str(bundle),
        "--test-intent-data", str(write(tmp_path / "t.csv", {**INTENTS, "oos": OOS}, "intent")),
        "--epochs", "1", "--batch-size", "8", "--lora-rank", "2", "--head-layers", "2",
    ]  # fmt: skip
    assert main(arguments, environ={}) == 0
    assert "| pytorch |" in capsys.readouterr().out
    report = read_report(bundle)
    assert report is not None and report.test_rows["intents"] == sum(
        map(len, INTENTS.values())
    ) + len(OOS)
    # Current for what was saved: the service serves it on ONNX Runtime.
    assert isinstance(load_exported(bundle), OnnxBundle)


def test_train_refuses_test_rows_it_could_not_measure_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    intents = str(write(tmp_path / "intents.csv", INTENTS, "intent"))
    base = ["train", "--intent-data", intents, "--output", str(tmp_path / "b")]
    queries = str(write(tmp_path / "q.csv", [("pay by paypal", "payment.methods")], "entry_id"))
    assert main([*base, "--retrieval-queries", queries], environ={}) == 2
    assert "need --test-intent-data" in capsys.readouterr().err
    assert (
        main([*base, "--test-intent-data", intents, "--retrieval-queries", queries], environ={})
        == 2
    )
    assert "--retrieval-queries needs --knowledge-base" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_the_gate_refuses_a_loss_beyond_the_tolerance() -> None:
    reference = {"intent_accuracy": 0.900, "oos_recall": 0.800}
    just_within = reference["intent_accuracy"] - (TOLERANCE_POINTS - 0.05) / 100
    assert worse_than({"intent_accuracy": just_within, "oos_recall": 0.81}, reference) == ""
    beyond = reference["intent_accuracy"] - (TOLERANCE_POINTS + 0.05) / 100
    assert "intent_accuracy" in worse_than(
        {"intent_accuracy": beyond, "oos_recall": 0.8}, reference
    )
    assert "oos_recall" in worse_than({"intent_accuracy": 0.95}, reference)  # a measure missing


def test_the_fp32_graph_reads_messages_as_pytorch_does(exported: Path) -> None:
    graph = OnnxBundle(json_info(exported), exported / ONNX_DIR / FP32_FILE, exported)
    torch_read = BundleEncoder(exported).read_many(MESSAGES)
    onnx_read = graph.read_many(MESSAGES)
    for (torch_vector, torch_prediction), (onnx_vector, onnx_prediction) in zip(
        torch_read, onnx_read, strict=True
    ):
        np.testing.assert_allclose(onnx_vector, torch_vector, atol=1e-4)
        assert onnx_prediction.intent == torch_prediction.intent
        assert onnx_prediction.sentiment == torch_prediction.sentiment
        assert onnx_prediction.intent_confidence == pytest.approx(
            torch_prediction.intent_confidence, abs=1e-4
        )
    # Read together or alone, a message reads the same (padding changes nothing), and in its
    # place: a long message among short ones is read in a pass of its own.
    long_message = "my parcel " * 30
    together = graph.read_many([*MESSAGES, long_message, "hi"])
    for text, (vector, prediction) in zip([*MESSAGES, long_message, "hi"], together, strict=True):
        alone_vector, alone_prediction = graph.read_many([text])[0]
        np.testing.assert_allclose(vector, alone_vector, atol=1e-5)
        assert prediction.intent == alone_prediction.intent
    assert graph.encode(MESSAGES).shape == (3, graph.dim) == (3, 384)


def test_a_bundle_changed_after_its_export_is_served_by_pytorch(
    exported: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import shutil

    from bot.config import Settings
    from bot.runtime import served_encoder

    changed = tmp_path / "bundle"
    shutil.copytree(exported, changed)
    assert isinstance(load_exported(changed), OnnxBundle)
    info = json.loads((changed / BUNDLE_FILE).read_text())
    info["temperature"] = info["temperature"] * 2  # as a retraining of the heads would
    (changed / BUNDLE_FILE).write_text(json.dumps(info))
    assert load_exported(changed) is None
    assert "earlier version of the bundle" in caplog.text
    auto = Settings(nlu_bundle=changed, inference_runtime="auto")
    assert isinstance(served_encoder(auto), BundleEncoder)
    with pytest.raises(BundleError, match="no current ONNX export"):
        served_encoder(Settings(nlu_bundle=changed, inference_runtime="onnx"))
    assert isinstance(served_encoder(Settings(nlu_bundle=exported)), OnnxBundle)
    pytorch = Settings(nlu_bundle=exported, inference_runtime="pytorch")
    assert isinstance(served_encoder(pytorch), BundleEncoder)
    with pytest.raises(BundleError, match="onnx-fp32, but .* no current ONNX export"):
        served_encoder(Settings(nlu_bundle=changed, inference_runtime="onnx-fp32"))


def test_onnx_fp32_serves_the_fp32_graph_whichever_the_export_chose(
    exported: Path, tmp_path: Path
) -> None:
    import shutil

    from bot.config import Settings
    from bot.runtime import served_encoder

    # The export as a machine where int8 passed its gate would have written it (its int8 file
    # here a copy of the fp32 graph: which file is loaded is what counts).
    chose_int8 = tmp_path / "bundle"
    shutil.copytree(exported, chose_int8)
    shutil.copy(chose_int8 / ONNX_DIR / FP32_FILE, chose_int8 / ONNX_DIR / INT8_FILE)
    report_file = chose_int8 / ONNX_DIR / REPORT_FILE
    report = json.loads(report_file.read_text())
    report_file.write_text(json.dumps({**report, "served": INT8_FILE}))

    assert served_encoder(Settings(nlu_bundle=chose_int8)).graph.name == INT8_FILE  # type: ignore[attr-defined]
    fp32 = served_encoder(Settings(nlu_bundle=chose_int8, inference_runtime="onnx-fp32"))
    assert isinstance(fp32, OnnxBundle) and fp32.graph.name == FP32_FILE


def test_the_service_answers_on_the_exported_graph(
    exported: Path, trained: Path, tmp_path: Path
) -> None:
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
        nlu_bundle=exported,
    )
    runtime = build_runtime(settings)
    try:
        assert isinstance(runtime.encoder, OnnxBundle)
        with TestClient(create_app(settings, runtime)) as client:
            turn = first_turn(client, "I forgot my password, this is awful")
        assert turn.status_code == 200
        expected = runtime.encoder.read_many(["I forgot my password, this is awful"])[0][1]
        with runtime.sessions() as session:
            stored = session.scalars(select(Message).where(Message.role == "customer")).one()
        assert stored.intent == expected.intent
        assert stored.sentiment == expected.sentiment
    finally:
        runtime.close()


# Run in a fresh interpreter where importing PyTorch, transformers or peft fails: the ONNX path
# must need none of them (each worker would otherwise pay their memory and start-up).
WITHOUT_TORCH = """
import sys
for blocked in ("torch", "transformers", "peft"):
    sys.modules[blocked] = None
from pathlib import Path
from fastapi.testclient import TestClient
from bot.app import create_app
from bot.config import Settings
from bot.runtime import build_runtime
from tests.helpers.service import first_turn

folder, bundle, kb = (Path(argument) for argument in sys.argv[1:4])
settings = Settings(
    database_url=f"sqlite:///{folder}/cx.db",
    knowledge_base=kb,
    index_dir=folder / "index",
    nlu_bundle=bundle,
)
runtime = build_runtime(settings)
with TestClient(create_app(settings, runtime)) as client:
    turn = first_turn(client, "where is my parcel")
runtime.close()
print(type(runtime.encoder).__name__, turn.status_code)
"""


def test_the_service_serves_the_exported_graph_without_pytorch(
    exported: Path, trained: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys

    arguments = [str(tmp_path), str(exported), str(trained / "kb.yaml")]
    child = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, *arguments],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["OnnxBundle", "200"]


def test_a_bad_graph_file_is_a_clear_error(exported: Path, tmp_path: Path) -> None:
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not a graph")
    with pytest.raises(BundleError, match="could not be loaded by ONNX Runtime"):
        OnnxBundle(json_info(exported), broken, exported)


def json_info(bundle: Path) -> BundleInfo:
    return read_info(bundle)
