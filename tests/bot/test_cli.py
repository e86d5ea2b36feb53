from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import DEMO_DIR
from bot.storage.db import create_db_engine, create_session_factory
from tests.helpers.model_registry import measured_registry

UNREACHABLE = "postgresql+psycopg://cx:hunter2@127.0.0.1:1/cx"


def write_csv(
    path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("text", "intent")
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_serve_with_the_database_down_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve"], environ={"CXAGENT_DATABASE_URL": UNREACHABLE}) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(
        "cxagent serve: error: cannot reach the database at postgresql+psycopg://cx:***@"
    )
    assert "\n" not in error and "hunter2" not in error


def test_the_real_command_prints_no_stack_trace() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve"],
        env={"CXAGENT_DATABASE_URL": UNREACHABLE, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_bad_settings_stop_any_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"], environ={"CXAGENT_PORT": "eighty"}) == 2
    assert "CXAGENT_PORT" in capsys.readouterr().err


def test_migrate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"], environ={"CXAGENT_DATABASE_URL": f"sqlite:///{tmp_path}/m.db"}) == 0
    assert "newest schema" in capsys.readouterr().out


def test_split_data_is_stratified_and_repeatable(tmp_path: Path) -> None:
    rows = [(f"text {i}", f"label{i % 3}") for i in range(60)]
    source = write_csv(tmp_path / "all.csv", rows)
    outputs = []
    for run in range(2):
        train, test = tmp_path / f"train{run}.csv", tmp_path / f"test{run}.csv"
        args = ["split-data", "--input", str(source), "--test-fraction", "0.2"]
        assert main([*args, "--train-out", str(train), "--test-out", str(test)], environ={}) == 0
        outputs.append((train.read_text(), test.read_text()))
    assert outputs[0] == outputs[1]
    test_rows = list(csv.DictReader(outputs[0][1].splitlines()))
    assert len(test_rows) == 12
    assert (
        sorted(r["intent"] for r in test_rows) == ["label0"] * 4 + ["label1"] * 4 + ["label2"] * 4
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("text,label\nhello,a\n", "missing column(s) ['intent']"),
        ("text,intent\nhello,a\n,b\n", "row 3: empty text"),
        ("text,intent\nhello,\n", "row 2: empty intent"),
    ],
)
def test_bad_data_files_name_the_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    source = tmp_path / "bad.csv"
    source.write_text(content)
    args = [
        "split-data",
        "--input",
        str(source),
        "--train-out",
        str(tmp_path / "a.csv"),
        "--test-out",
        str(tmp_path / "b.csv"),
    ]
    assert main(args, environ={}) == 2
    error = capsys.readouterr().err
    assert str(source) in error and message in error


@pytest.mark.real_model
def test_evaluate_retrieval_prints_json_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = write_csv(
        tmp_path / "corpus.csv",
        [
            ("where is my parcel", "track"),
            ("my package has not arrived", "track"),
            ("I want my money back", "refund"),
            ("how do I get a refund", "refund"),
            ("I forgot my password", "login"),
            ("cannot sign in", "login"),
        ],
    )
    queries = write_csv(
        tmp_path / "queries.csv",
        [
            ("has my order shipped yet", "track"),
            ("refund me please", "refund"),
            ("password reset", "login"),
        ],
    )
    assert (
        main(["evaluate-retrieval", "--corpus", str(corpus), "--queries", str(queries)], environ={})
        == 0
    )
    metrics = json.loads(capsys.readouterr().out)
    assert set(metrics) >= {"recall@1", "recall@5", "mrr", "ms_per_query"}
    assert metrics["recall@5"] == 1.0 and metrics["queries"] == 3 and metrics["corpus_rows"] == 6


@pytest.mark.real_model
def test_serve_refuses_a_missing_index_when_told_not_to_rebuild(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A copy of the demo's knowledge base: the demo's own has an index shipped beside it,
    # which a start copies rather than builds.
    knowledge_base = tmp_path / "kb.yaml"
    shutil.copy(DEMO_DIR / "knowledge_base.yaml", knowledge_base)
    environ = {
        "CXAGENT_DATABASE_URL": f"sqlite:///{tmp_path}/s.db",
        "CXAGENT_KNOWLEDGE_BASE": str(knowledge_base),
        "CXAGENT_INDEX_DIR": str(tmp_path / "no-index"),
        "CXAGENT_REBUILD_STALE_INDEX": "false",
    }
    assert main(["serve"], environ=environ) == 2
    assert "run `cxagent index`" in capsys.readouterr().err


def index_environ(tmp_path: Path) -> dict[str, str]:
    """A scratch database and index folder, a knowledge base of two entries, no bundle."""
    knowledge_base = tmp_path / "kb.yaml"
    knowledge_base.write_text(
        "company: Test\n"
        "entries:\n"
        "  - id: returns\n"
        "    intent: returns\n"
        "    questions: [how do I return something]\n"
        "    answer: Returns are free within 30 days.\n"
        "  - id: delivery\n"
        "    intent: delivery\n"
        "    questions: [when will my parcel come]\n"
        "    answer: Parcels arrive in two to four days.\n",
        encoding="utf-8",
    )
    return {
        "CXAGENT_DATABASE_URL": f"sqlite:///{tmp_path}/i.db",
        "CXAGENT_KNOWLEDGE_BASE": str(knowledge_base),
        "CXAGENT_INDEX_DIR": str(tmp_path / "index"),
        "CXAGENT_NLU_BUNDLE": "none",
    }


def test_index_builds_once_and_keeps_a_current_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = index_environ(tmp_path)
    saved = tmp_path / "index" / "index.faiss"

    assert main(["index"], environ=environ) == 0
    built = saved.stat().st_mtime_ns
    assert main(["index"], environ=environ) == 0
    assert saved.stat().st_mtime_ns == built  # current: kept as it was
    assert main(["index", "--force"], environ=environ) == 0
    assert saved.stat().st_mtime_ns != built
    assert "2 rows (flat)" in capsys.readouterr().err


def test_index_builds_for_the_version_the_registry_promoted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cxagent serve` serves the promoted version, not CXAGENT_NLU_BUNDLE: the index the install
    builds must be for it, or the first start builds it again."""
    bundle = tmp_path / "retrained"
    bundle.mkdir()
    demo = DEMO_DIR / "models" / "nlu-demo"
    for name in ("bundle.json", "heads.safetensors"):
        shutil.copy(demo / name, bundle / name)
    shutil.copytree(demo / "adapter", bundle / "adapter")  # no ONNX export: served on PyTorch
    environ = {**index_environ(tmp_path), "CXAGENT_MODEL_REGISTRY": str(tmp_path / "registry")}
    assert main(["migrate"], environ=environ) == 0
    engine = create_db_engine(environ["CXAGENT_DATABASE_URL"])
    # Measures from the bundle's intent-data hash, whatever it is: promotion is not under test.
    intent_hash = json.loads((bundle / "bundle.json").read_text())["data"]["intent_hash"]
    registry = measured_registry(
        tmp_path / "registry", create_session_factory(engine), {intent_hash[:1]: {}}
    )
    version = registry.register(bundle, "ana").version
    registry.promote(version, "ana")
    engine.dispose()
    capsys.readouterr()

    assert main(["index"], environ=environ) == 0
    assert f"for bundled + bundle {version}" in capsys.readouterr().err


def test_serve_stops_on_a_bad_rules_file_naming_the_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "escalation.yaml"
    rules.write_text(
        "rules:\n  - name: angry_vip\n    when: {tier_in: [vip], sentiment_in: [furious]}\n"
        "    reason: VIP is unhappy\n"
    )
    environ = {
        "CXAGENT_DATABASE_URL": f"sqlite:///{tmp_path}/s.db",
        "CXAGENT_ESCALATION_RULES": str(rules),
    }
    assert main(["serve"], environ=environ) == 2
    err = capsys.readouterr().err
    assert err.startswith("cxagent serve: error: ")
    assert "rule 'angry_vip': `when.sentiment_in` has ['furious']" in err
    assert "Traceback" not in err


def test_add_staff_reads_the_password_and_refuses_a_short_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    environ = {"CXAGENT_DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["add-staff", "ana", "--role", "admin"], environ=environ) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    assert main(["add-staff", "ana", "--role", "admin"], environ=environ) == 0
    assert "admin account 'ana' created" in capsys.readouterr().out
