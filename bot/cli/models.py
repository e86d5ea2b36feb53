"""The ML engineer's commands: train, evaluate, split-data, export-training-data and
evaluate-retrieval (the same person measures the encoder that the bundle serves retrieval with)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.cli.common import Commands, UsageError, database_sessions
from bot.config import DEMO_DIR, Settings
from finetune.config import TrainingConfig

# The options of `train` that override a TrainingConfig default: (flag, type, help).
_TRAINING_OPTIONS: tuple[tuple[str, type[int] | type[float], str], ...] = (
    ("--epochs", int, "passes over the intent data"),
    ("--batch-size", int, "messages per step"),
    ("--learning-rate", float, "LoRA learning rate"),
    ("--lora-rank", int, "rank of the LoRA adapters"),
    ("--head-layers", int, "encoder layers the heads read (1 to 6)"),
    ("--label-smoothing", float, "cross-entropy label smoothing"),
    ("--typo-rate", float, "share of texts typed with slips each time they are drawn"),
    ("--validation-fraction", float, "share held out when no --validation-data"),
    ("--seed", int, "random seed (same seed, same data: same bundle)"),
)


def cmd_train(settings: Settings, args: argparse.Namespace) -> None:
    from finetune.data import concatenated, load_labelled
    from finetune.reading import SENTIMENT_LABELS
    from finetune.trainer import train
    from retrieval.knowledge_base import load_knowledge_base

    # Only what was given on the command line; TrainingConfig holds the defaults.
    names = [flag[2:].replace("-", "_") for flag, _, _ in _TRAINING_OPTIONS]
    chosen = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    try:
        config = TrainingConfig(base_model=args.base_model or settings.base_model, **chosen)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.test_intent_data is None and (args.test_sentiment_data or args.retrieval_queries):
        raise UsageError("--test-sentiment-data and --retrieval-queries need --test-intent-data")
    if args.retrieval_queries is not None and args.knowledge_base is None:
        raise UsageError("--retrieval-queries needs --knowledge-base, whose questions it searches")
    intents = concatenated([load_labelled(path, "intent") for path in args.intent_data])
    sentiments = (
        load_labelled(args.sentiment_data, "sentiment", frozenset(SENTIMENT_LABELS))
        if args.sentiment_data
        else None
    )
    out_of_scope = load_labelled(args.oos_data, "intent") if args.oos_data else None
    validation = load_labelled(args.validation_data, "intent") if args.validation_data else None
    knowledge_base = load_knowledge_base(args.knowledge_base) if args.knowledge_base else None
    bundle, adapter_model = train(
        config,
        intents,
        sentiments,
        out_of_scope,
        knowledge_base=knowledge_base,
        intent_validation=validation,
    )
    bundle.save(args.output, adapter_model)
    print(json.dumps({"validation": _headline(bundle.info.metrics["validation"])}, indent=2))
    print(f"model bundle saved in {args.output}", file=sys.stderr)
    if args.test_intent_data is None:
        print(
            "not exported for ONNX Runtime, so it would serve on PyTorch: give --test-intent-data "
            f"(rows it did not learn from), or run `cxagent export-onnx --model {args.output} "
            "--intent-data …`",
            file=sys.stderr,
        )
        return
    _export_measured(
        args.output,
        args.test_intent_data,
        args.test_sentiment_data,
        args.knowledge_base if args.retrieval_queries else None,
        args.retrieval_queries,
        config.base_model,
    )


def _headline(metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The single-number metrics of each task (not the tables)."""
    return {
        task: {name: value for name, value in values.items() if isinstance(value, float)}
        for task, values in metrics.items()
        if task in ("intent", "sentiment")
    }


def cmd_evaluate(settings: Settings, args: argparse.Namespace) -> None:
    from finetune.bundle import NLUBundle
    from finetune.data import load_labelled
    from finetune.evaluation import evaluate, write_report
    from finetune.reading import SENTIMENT_LABELS

    bundle = NLUBundle.load(args.model)
    intents = load_labelled(args.intent_data, "intent")
    sentiments = (
        load_labelled(args.sentiment_data, "sentiment", frozenset(SENTIMENT_LABELS))
        if args.sentiment_data
        else None
    )
    report = evaluate(bundle, intents, sentiments)
    written = write_report(report, args.report)
    print(json.dumps(_headline(report), indent=2))
    print("wrote " + ", ".join(str(path) for path in written), file=sys.stderr)


DEMO_BUNDLE = DEMO_DIR / "models" / "nlu-demo"


def cmd_export_onnx(settings: Settings, args: argparse.Namespace) -> None:
    from finetune.onnx_runtime import bundle_fingerprint, read_report

    model = args.model or settings.nlu_bundle
    if model is None:
        raise UsageError("no bundle to export: give --model or set CXAGENT_NLU_BUNDLE")
    current = read_report(model)
    if current is not None and current.fingerprint == bundle_fingerprint(model) and not args.force:
        # Run again by an install script, it costs nothing; a retrained bundle is exported anew.
        print(
            f"the ONNX export in {model / 'onnx'} is current (serving {current.served}); "
            "--force exports again",
            file=sys.stderr,
        )
        return
    if args.intent_data is None:
        if model.resolve() != DEMO_BUNDLE.resolve():
            raise UsageError(
                "--intent-data is needed: test rows the bundle did not learn from, to measure "
                "the export on (only the demo bundle brings its own)"
            )
        # The demo bundle's own held-out data, as `cxagent evaluate` reads it in the docs.
        args.intent_data = DEMO_DIR / "nlu" / "intents_test.csv"
        args.sentiment_data = DEMO_DIR / "nlu" / "sentiment_test.csv"
        args.knowledge_base = DEMO_DIR / "knowledge_base.yaml"
        args.retrieval_queries = DEMO_DIR / "heldout_questions.csv"
    if (args.knowledge_base is None) != (args.retrieval_queries is None):
        raise UsageError("--knowledge-base and --retrieval-queries go together")
    _export_measured(
        model,
        args.intent_data,
        args.sentiment_data,
        args.knowledge_base,
        args.retrieval_queries,
        args.base_model,
    )


def _export_measured(
    model: Path,
    intent_data: Path,
    sentiment_data: Path | None,
    knowledge_base: Path | None,
    retrieval_queries: Path | None,
    base_model: str | None,
) -> None:
    """Export ``model`` for ONNX Runtime, measured beside PyTorch on the test data given
    (finetune.onnx_export), and print the measures and what it serves."""
    from finetune.accuracy_gate import TOLERANCE_POINTS, load_test_data
    from finetune.onnx_export import export_onnx

    test = load_test_data(intent_data, sentiment_data, knowledge_base, retrieval_queries)
    report = export_onnx(
        model, test, base_model, progress=lambda line: print(line, file=sys.stderr)
    )
    print(report.table())
    for name, why in report.refused.items():
        print(f"{name} refused (loses more than {TOLERANCE_POINTS} points): {why}")
    print(f"serving {model / 'onnx' / report.served}", file=sys.stderr)


def cmd_split_data(settings: Settings, args: argparse.Namespace) -> None:
    from finetune.data import load_labelled, stratified_split, write_labelled_csv

    data = load_labelled(args.input, args.label_column)
    train, test = stratified_split(data, args.test_fraction, args.seed)
    write_labelled_csv(train, args.train_out, args.label_column)
    write_labelled_csv(test, args.test_out, args.label_column)
    print(f"{len(train)} rows -> {args.train_out}, {len(test)} rows -> {args.test_out}")


def cmd_export_training_data(settings: Settings, args: argparse.Namespace) -> None:
    from bot.analytics.training_export import export_training_data

    below = settings.intent_threshold if args.below is None else args.below
    with database_sessions(settings) as sessions:
        summary = export_training_data(
            sessions, args.output, below, include_low_confidence=not args.corrected_only
        )
    print(
        json.dumps(
            {
                "output": str(args.output),
                "corrected": summary.corrected,
                "low_confidence": summary.low_confidence,
                "duplicates_skipped": summary.duplicates_skipped,
            },
            indent=2,
        )
    )
    if summary.low_confidence:
        print(
            "check the low_confidence rows (their intent is the model's guess) before training",
            file=sys.stderr,
        )


def cmd_evaluate_retrieval(settings: Settings, args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from finetune.data import load_labelled
    from retrieval.encoder import SentenceEncoder
    from retrieval.evaluate import evaluate_retrieval

    corpus = load_labelled(args.corpus, args.label_column)
    queries = load_labelled(args.queries, args.label_column)
    encoder = SentenceEncoder(settings.base_model)
    bar = tqdm(total=len(queries), desc="queries", unit="q", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.update(done - bar.n)

    print(f"indexing {len(corpus)} corpus rows", file=sys.stderr)
    metrics = evaluate_retrieval(
        encoder,
        corpus.texts,
        corpus.labels,
        queries.texts,
        queries.labels,
        index_type=args.index_type or settings.index_type,
        progress=progress,
    )
    bar.close()
    print(json.dumps(metrics, indent=2))


def add_commands(commands: Commands) -> None:
    training = commands.add_parser(
        "train", help="train the NLU model (LoRA intent and sentiment heads) into a bundle"
    )
    training.add_argument(
        "--intent-data",
        type=Path,
        required=True,
        action="append",
        help="CSV/JSONL: text,intent; give it again to add files (an export of corrections)",
    )
    training.add_argument("--sentiment-data", type=Path, help="CSV/JSONL: text,sentiment")
    training.add_argument("--oos-data", type=Path, help="out-of-scope examples: text,intent")
    training.add_argument("--output", type=Path, required=True, help="the bundle folder")
    training.add_argument(
        "--validation-data",
        type=Path,
        help="intent rows to calibrate and validate on (default: held out from --intent-data)",
    )
    training.add_argument(
        "--knowledge-base",
        type=Path,
        help="also fit the encoder to this knowledge base, so the bundle serves retrieval",
    )
    training.add_argument(
        "--test-intent-data",
        type=Path,
        help="test rows (text,intent, oos included) to measure the ONNX Runtime export on: "
        "given, the bundle is exported as `cxagent export-onnx` does",
    )
    training.add_argument("--test-sentiment-data", type=Path, help="test rows: text,sentiment")
    training.add_argument(
        "--retrieval-queries",
        type=Path,
        help="text,entry_id: questions of --knowledge-base's entries, to measure retrieval on",
    )
    defaults = TrainingConfig()
    for flag, kind, what in _TRAINING_OPTIONS:
        default = getattr(defaults, flag[2:].replace("-", "_"))
        training.add_argument(flag, type=kind, help=f"{what} (default {default})")
    training.add_argument("--base-model", help="default: CXAGENT_BASE_MODEL")
    training.set_defaults(handler=cmd_train)

    evaluation = commands.add_parser(
        "evaluate", help="evaluate a bundle: report.json, report.md and pictures"
    )
    evaluation.add_argument("--model", type=Path, required=True, help="the bundle folder")
    evaluation.add_argument("--intent-data", type=Path, required=True)
    evaluation.add_argument("--sentiment-data", type=Path)
    evaluation.add_argument("--report", type=Path, required=True, help="folder for the report")
    evaluation.set_defaults(handler=cmd_evaluate)

    onnx = commands.add_parser(
        "export-onnx",
        help="export a bundle for ONNX Runtime (fp32, and int8 where it keeps accuracy), "
        "measured beside PyTorch on test data",
    )
    onnx.add_argument("--model", type=Path, help="the bundle folder (default CXAGENT_NLU_BUNDLE)")
    onnx.add_argument(
        "--intent-data",
        type=Path,
        help="test rows: text,intent (oos included); the demo bundle's own by default",
    )
    onnx.add_argument("--sentiment-data", type=Path, help="test rows: text,sentiment")
    onnx.add_argument("--knowledge-base", type=Path, help="whose questions retrieval searches")
    onnx.add_argument(
        "--retrieval-queries", type=Path, help="text,entry_id: questions and the entry they ask"
    )
    onnx.add_argument("--base-model", help="default: the bundle's own")
    onnx.add_argument(
        "--force", action="store_true", help="export again even when the export is current"
    )
    onnx.set_defaults(handler=cmd_export_onnx)

    split = commands.add_parser("split-data", help="stratified train/test split of a CSV file")
    split.add_argument("--input", type=Path, required=True)
    split.add_argument("--label-column", default="intent")
    split.add_argument("--test-fraction", type=float, default=0.1)
    split.add_argument("--seed", type=int, default=13)
    split.add_argument("--train-out", type=Path, required=True)
    split.add_argument("--test-out", type=Path, required=True)
    split.set_defaults(handler=cmd_split_data)

    export = commands.add_parser(
        "export-training-data",
        help="write the intents staff corrected and the messages the model was unsure of as a "
        "CSV for `cxagent train --intent-data`",
    )
    export.add_argument("--output", type=Path, required=True, help="the CSV file to write")
    export.add_argument(
        "--below",
        type=float,
        help="confidence under which a message counts as unsure (default CXAGENT_INTENT_THRESHOLD)",
    )
    export.add_argument(
        "--corrected-only", action="store_true", help="only the messages staff corrected"
    )
    export.set_defaults(handler=cmd_export_training_data)

    evaluate = commands.add_parser(
        "evaluate-retrieval",
        help="index a CSV corpus (text,intent), search it with CSV queries, print JSON metrics",
    )
    evaluate.add_argument("--corpus", type=Path, required=True)
    evaluate.add_argument("--queries", type=Path, required=True)
    evaluate.add_argument("--label-column", default="intent")
    evaluate.add_argument("--index-type", choices=["flat", "hnsw", "ivf"])
    evaluate.set_defaults(handler=cmd_evaluate_retrieval)
