"""The `cxagent` command."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Settings, SettingsError, load_settings
from finetune.config import TrainingConfig

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger("cxagent")


class UsageError(ValueError):
    """A command's arguments do not fit together."""


def _known_errors() -> tuple[type[Exception], ...]:
    # Errors whose message already says what is wrong and how to fix it: shown as one line.
    from bot.conversation.escalation import EscalationRulesError
    from bot.live.events import EventHubUnavailable
    from bot.storage.db import DatabaseUnavailable
    from finetune.bundle import BundleError
    from finetune.data import DataError
    from retrieval.encoder import ModelNotFound
    from retrieval.index import RetrievalIndexError
    from retrieval.knowledge_base import KnowledgeBaseError

    return (
        SettingsError,
        DatabaseUnavailable,
        DataError,
        ModelNotFound,
        UsageError,
        BundleError,
        RetrievalIndexError,
        KnowledgeBaseError,
        EscalationRulesError,
        EventHubUnavailable,
    )


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from bot.app import create_app
    from bot.runtime import build_runtime
    from bot.support.accounts import FIRST_ADMIN

    runtime = build_runtime(settings)
    first_password = runtime.staff.ensure_first_admin()
    if first_password is not None:
        print(
            f"No staff accounts yet: created {FIRST_ADMIN!r} with the password {first_password}\n"
            "Log in to the console at /console and set a new password under Staff.",
            file=sys.stderr,
        )
    app = create_app(settings, runtime)
    try:
        uvicorn.run(
            app,
            host=args.host or settings.host,
            port=args.port or settings.port,
            log_level=settings.log_level,
        )
    finally:
        runtime.close()


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    from bot.storage.db import check_database, create_db_engine, migrate, safe_url

    engine = create_db_engine(settings.database_url)
    check_database(engine)
    migrate(engine)
    print(f"database at {safe_url(settings.database_url)} is at the newest schema")


@contextmanager
def _database_sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """Sessions on the configured database, migrated if allowed, for a command that works on it;
    a service's refusal (too little data, a short password) becomes a one-line usage error."""
    from bot.errors import ServiceError
    from bot.storage.db import check_database, create_db_engine, create_session_factory, migrate

    engine = create_db_engine(settings.database_url)
    try:
        check_database(engine)
        if settings.auto_migrate:
            migrate(engine)
        yield create_session_factory(engine)
    except ServiceError as error:
        raise UsageError(str(error)) from None
    finally:
        engine.dispose()


def cmd_add_staff(settings: Settings, args: argparse.Namespace) -> None:
    import getpass

    from bot.support.accounts import Role, StaffService

    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.username}: ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    with _database_sessions(settings) as sessions:
        member = StaffService(sessions).create_account(
            args.username, password, Role(args.role), args.name
        )
    print(f"{member.role} account {member.username!r} created (id {member.id})")


def cmd_fit_satisfaction(settings: Settings, args: argparse.Namespace) -> None:
    from bot.analytics.satisfaction import SatisfactionService

    with _database_sessions(settings) as sessions:
        model = SatisfactionService(sessions).fit()
    print(json.dumps({"weights": model.weights, "agreement": model.metrics}, indent=2))
    assert model.metrics is not None
    print(
        "{:<10} {:>13} {:>6} {:>9} {:>20}".format(
            "weights", "conversations", "MAE", "Spearman", "satisfied agreement"
        ),
        file=sys.stderr,
    )
    for name, figures in model.metrics.items():
        print(
            f"{name:<10} {figures['conversations']:>13} {figures['mae']:>6.3f} "
            f"{figures['spearman']:>9.3f} {figures['satisfied_agreement']:>20.3f}",
            file=sys.stderr,
        )


def cmd_export_training_data(settings: Settings, args: argparse.Namespace) -> None:
    from bot.analytics.training_export import export_training_data

    below = settings.intent_threshold if args.below is None else args.below
    with _database_sessions(settings) as sessions:
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


def _with_profiles(settings: Settings, work: Callable[[Any], Any]) -> Any:
    from bot.analytics.profiles import ProfileService

    with _database_sessions(settings) as sessions:
        return work(ProfileService(sessions))


def cmd_refresh_profiles(settings: Settings, args: argparse.Namespace) -> None:
    count = _with_profiles(settings, lambda profiles: profiles.refresh())
    print(f"churn risk, lifecycle stage and lifetime value refreshed for {count} customers")


def cmd_fit_churn(settings: Settings, args: argparse.Namespace) -> None:
    print(json.dumps(_with_profiles(settings, lambda profiles: profiles.fit_churn()), indent=2))


def cmd_segment(settings: Settings, args: argparse.Namespace) -> None:
    segments = _with_profiles(settings, lambda profiles: profiles.segment(args.k, args.seed))
    for segment in segments:
        print(f"{segment['customers']:>6}  {segment['segment']}")


def cmd_index(settings: Settings, args: argparse.Namespace) -> None:
    from bot.runtime import served_encoder
    from retrieval.knowledge_base import load_knowledge_base
    from retrieval.retriever import build_index

    knowledge_base = load_knowledge_base(settings.knowledge_base)
    encoder = served_encoder(settings)
    print(f"encoding the {len(knowledge_base)} entries with {encoder.name}", file=sys.stderr)
    index = build_index(knowledge_base, encoder, settings.index_type)
    index.save(settings.index_dir)
    print(
        f"indexed {len(index.keys)} rows ({settings.index_type}) into {settings.index_dir}",
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


def cmd_split_data(settings: Settings, args: argparse.Namespace) -> None:
    from finetune.data import load_labelled, stratified_split, write_labelled_csv

    data = load_labelled(args.input, args.label_column)
    train, test = stratified_split(data, args.test_fraction, args.seed)
    write_labelled_csv(train, args.train_out, args.label_column)
    write_labelled_csv(test, args.test_out, args.label_column)
    print(f"{len(train)} rows -> {args.train_out}, {len(test)} rows -> {args.test_out}")


def cmd_train(settings: Settings, args: argparse.Namespace) -> None:
    from finetune.data import concatenated, load_labelled
    from finetune.reading import SENTIMENT_LABELS
    from finetune.trainer import train
    from retrieval.knowledge_base import load_knowledge_base

    # Only what was given on the command line; TrainingConfig holds the defaults.
    chosen = {
        name: getattr(args, name)
        for name in (
            "epochs",
            "batch_size",
            "learning_rate",
            "lora_rank",
            "head_layers",
            "label_smoothing",
            "validation_fraction",
            "seed",
        )
        if getattr(args, name) is not None
    }
    try:
        config = TrainingConfig(base_model=args.base_model or settings.base_model, **chosen)
    except ValueError as error:
        raise UsageError(str(error)) from None
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


def cmd_benchmark(settings: Settings, args: argparse.Namespace) -> None:
    from bot import benchmarks

    if args.what == "retrieval":
        benchmarks.retrieval_benchmark(settings)
    elif args.what == "nlu":
        benchmarks.nlu_benchmark(settings)
    else:
        benchmarks.chat_benchmark(settings, messages=args.messages)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cxagent",
        description="cxagent: a conversational customer-experience agent. Settings come from "
        "CXAGENT_* environment variables (see the README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="start the service (API, WebSocket, /docs)")
    serve.add_argument("--host", help="overrides CXAGENT_HOST")
    serve.add_argument("--port", type=int, help="overrides CXAGENT_PORT")
    serve.set_defaults(handler=cmd_serve)

    commands.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        handler=cmd_migrate
    )
    commands.add_parser("index", help="build the FAISS index over the knowledge base").set_defaults(
        handler=cmd_index
    )

    evaluate = commands.add_parser(
        "evaluate-retrieval",
        help="index a CSV corpus (text,intent), search it with CSV queries, print JSON metrics",
    )
    evaluate.add_argument("--corpus", type=Path, required=True)
    evaluate.add_argument("--queries", type=Path, required=True)
    evaluate.add_argument("--label-column", default="intent")
    evaluate.add_argument("--index-type", choices=["flat", "hnsw", "ivf"])
    evaluate.set_defaults(handler=cmd_evaluate_retrieval)

    add_staff = commands.add_parser(
        "add-staff",
        help="create a console account; the password is asked for (or read from stdin)",
    )
    add_staff.add_argument("username")
    add_staff.add_argument("--role", choices=["agent", "admin"], default="agent")
    add_staff.add_argument("--name", help="the name colleagues see (default: the username)")
    add_staff.set_defaults(handler=cmd_add_staff)

    commands.add_parser(
        "fit-satisfaction",
        help="refit the predicted-satisfaction weights on surveyed conversations and report "
        "how well predictions agree with the answers",
    ).set_defaults(handler=cmd_fit_satisfaction)

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

    commands.add_parser(
        "refresh-profiles", help="recompute every customer's churn risk, lifecycle and value"
    ).set_defaults(handler=cmd_refresh_profiles)
    commands.add_parser(
        "fit-churn",
        help="refit the churn-risk model on customers whose outcome the site reported "
        "(attribute `churned`)",
    ).set_defaults(handler=cmd_fit_churn)
    segment = commands.add_parser(
        "segment", help="cluster customers into segments (k-means) and describe each"
    )
    segment.add_argument("--k", type=int, default=4, help="how many segments")
    segment.add_argument("--seed", type=int, default=13)
    segment.set_defaults(handler=cmd_segment)

    split = commands.add_parser("split-data", help="stratified train/test split of a CSV file")
    split.add_argument("--input", type=Path, required=True)
    split.add_argument("--label-column", default="intent")
    split.add_argument("--test-fraction", type=float, default=0.1)
    split.add_argument("--seed", type=int, default=13)
    split.add_argument("--train-out", type=Path, required=True)
    split.add_argument("--test-out", type=Path, required=True)
    split.set_defaults(handler=cmd_split_data)

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
    defaults = TrainingConfig()
    for flag, kind, what in (
        ("--epochs", int, "passes over the intent data"),
        ("--batch-size", int, "messages per step"),
        ("--learning-rate", float, "LoRA learning rate"),
        ("--lora-rank", int, "rank of the LoRA adapters"),
        ("--head-layers", int, "encoder layers the heads read (1 to 6)"),
        ("--label-smoothing", float, "cross-entropy label smoothing"),
        ("--validation-fraction", float, "share held out when no --validation-data"),
        ("--seed", int, "random seed (same seed, same data: same bundle)"),
    ):
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

    benchmark = commands.add_parser("benchmark", help="measure speed and quality on this machine")
    benchmark.add_argument("what", choices=["retrieval", "chat", "nlu"])
    benchmark.add_argument("--messages", type=int, default=500, help="chat: messages to send")
    benchmark.set_defaults(handler=cmd_benchmark)
    return parser


def configure_logging(settings: Settings) -> None:
    # Libraries (faiss, alembic, transformers) narrate at INFO; only our own packages follow
    # CXAGENT_LOG_LEVEL, the rest speak up from WARNING.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for package in ("bot", "retrieval", "finetune", "cxagent"):
        logging.getLogger(package).setLevel(settings.log_level.upper())


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[Settings, argparse.Namespace], None] = args.handler
    try:
        settings = load_settings(os.environ if environ is None else environ)
        configure_logging(settings)
        handler(settings, args)
    except _known_errors() as error:
        print(f"cxagent {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
