"""The model registry: trained bundles kept as versions, measured on one test set, promoted to
serving only when they are no worse than what serves, and rolled back.

The registry folder (CXAGENT_MODEL_REGISTRY, shared by every machine that serves) holds::

    test-set/            the company's fixed test set: copies of its files and test-set.json
    versions/<version>/  a copy of the registered bundle, and its record.json

A record says when and by whom the version was registered, what it was trained on (the
bundle's own data hashes and training arguments), its evaluation on the test set, its status
and the promotions and rollbacks it took part in. Which version serves is not a file: it is the
latest row of the ``model_serving`` table, so every worker on every machine reads the same
truth, and the rows are the log of who changed it, when, forced or not, on which metric table.

Promotion measures with the ONNX export's own measures and tolerance (finetune.onnx_export):
a candidate that loses more than TOLERANCE_POINTS on intent accuracy, out-of-scope recall,
sentiment macro recall or retrieval recall@1 against the serving model is refused, unless
forced, and a forced promotion says so in the log.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import Conflict, NotFound
from bot.storage.models import Message, ModelServing
from finetune.accuracy_gate import TOLERANCE_POINTS, TestData, load_test_data, worse_than
from finetune.bundle_format import read_info
from finetune.onnx_runtime import bundle_fingerprint

TEST_SET_DIR = "test-set"
TEST_SET_FILE = "test-set.json"
VERSIONS_DIR = "versions"
RECORD_FILE = "record.json"
# The files of a test set, by role: what export-onnx takes as --intent-data and the others.
TEST_SET_ROLES = ("intent_data", "sentiment_data", "knowledge_base", "retrieval_queries")
# A version id: when it was registered (UTC) and the start of the bundle's hash. Checked before a
# version names a folder, so that no id reaches outside the registry.
VERSION_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{10}")
# What serves when the registry has promoted nothing (or rolled its first promotion back).
CONFIGURED = "CXAGENT_NLU_BUNDLE"


class RegistryError(Conflict, ValueError):
    """A registry request that does not fit its state: no test set, nothing to roll back to, a
    version serving already; the message says what to do instead."""


class UnknownVersion(RegistryError, NotFound):
    pass


class NotMeasured(RegistryError):
    """A comparison asked of the service, which does not load models to measure them: the
    command line measures (`cxagent models evaluate`)."""


class PromotionRefused(RegistryError):
    """The candidate is worse than the serving model beyond the tolerance."""

    def __init__(self, comparison: Comparison) -> None:
        super().__init__(
            f"{comparison.candidate_name} is worse than {comparison.serving_name} by more than "
            f"{TOLERANCE_POINTS} points on: {comparison.worse}; --force promotes it anyway "
            "(and records who did)"
        )
        self.comparison = comparison


class Status(StrEnum):
    CANDIDATE = "candidate"  # registered, never served
    SERVING = "serving"
    RETIRED = "retired"  # served once, no longer


class Action(StrEnum):
    PROMOTE = "promote"
    ROLLBACK = "rollback"


@dataclass
class ModelRecord:
    """record.json of one version."""

    version: str
    registered_at: str
    registered_by: str
    source: str  # the folder it was registered from
    base_model: str
    intent_labels: list[str]
    training: dict[str, Any]
    # The bundle's own record of its training data (file hashes, row counts).
    data: dict[str, Any]
    status: str = Status.CANDIDATE
    # {"test_set": hash, "measured_at": iso time, "measures": {name: value}} or None.
    evaluation: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Comparison:
    """The metric table of a promotion: each measure of the candidate beside the serving
    model's, on the registry's test set."""

    candidate_name: str
    serving_name: str
    candidate: dict[str, float]
    serving: dict[str, float]
    # Which measures the candidate loses beyond the tolerance on, "" if none.
    worse: str

    def rows(self) -> list[dict[str, Any]]:
        """Per measure: the candidate's value, the serving model's, the change in points and
        whether it loses beyond the tolerance (NaN where a side lacks the measure)."""
        found = []
        for name in sorted(set(self.candidate) | set(self.serving)):
            new, old = self.candidate.get(name, math.nan), self.serving.get(name, math.nan)
            change = (new - old) * 100
            worse = name in self.serving and not (-change <= TOLERANCE_POINTS)
            found.append(
                {
                    "measure": name,
                    "candidate": new,
                    "serving": old,
                    "change": change,
                    "worse": worse,
                }
            )
        return found

    def table(self) -> str:
        lines = [
            f"| measure | {self.candidate_name} | {self.serving_name} | change (points) | |",
            "| --- | --- | --- | --- | --- |",
        ]
        for row in self.rows():
            verdict = f"worse (over {TOLERANCE_POINTS})" if row["worse"] else "ok"
            cells = [
                "–" if math.isnan(row[name]) else format(row[name], spec)
                for name, spec in (("candidate", ".4f"), ("serving", ".4f"), ("change", "+.2f"))
            ]
            lines.append(f"| {row['measure']} | " + " | ".join(cells) + f" | {verdict} |")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "serving": self.serving,
            "serving_name": self.serving_name,
            "worse": self.worse,
            "tolerance_points": TOLERANCE_POINTS,
        }


@dataclass(frozen=True)
class ServingChange:
    """One row of the serving log, as the CLI and the console show it."""

    action: str
    version: str | None
    previous: str | None
    by: str
    forced: bool
    at: datetime
    metrics: dict[str, Any]


# Measures a bundle on a test set: (bundle folder, test data) -> {measure: value}.
Measurer = Callable[[Path, TestData], dict[str, float]]


def measure_bundle(bundle_dir: Path, test: TestData) -> dict[str, float]:
    """The four measures of the bundle on PyTorch, as export-onnx takes its reference."""
    from finetune.accuracy_gate import measure
    from finetune.serving import BundleEncoder

    encoder = BundleEncoder(bundle_dir)
    return measure(encoder.bundle, encoder, test)


class ModelRegistry:
    def __init__(
        self,
        folder: Path,
        sessions: sessionmaker[Session],
        configured_bundle: Path | None = None,
        measurer: Measurer = measure_bundle,
    ) -> None:
        """``configured_bundle``: CXAGENT_NLU_BUNDLE, what serves until a promotion."""
        self.folder = folder
        self.sessions = sessions
        self.configured_bundle = configured_bundle
        self.measurer = measurer

    # The test set -------------------------------------------------------------------------

    def name_test_set(self, files: dict[str, Path | None], by: str) -> str:
        """Copy the company's test files into the registry (so later edits of the originals do
        not move the yardstick) and return the test set's hash. ``files`` by TEST_SET_ROLES;
        intent_data is required, knowledge_base and retrieval_queries go together."""
        given = {role: path for role, path in files.items() if path is not None}
        unknown = set(given) - set(TEST_SET_ROLES)
        if unknown:
            raise RegistryError(f"unknown test-set files {sorted(unknown)}; {TEST_SET_ROLES}")
        if "intent_data" not in given:
            raise RegistryError("a test set needs intent data (text,intent, oos rows included)")
        missing = [str(path) for path in given.values() if not path.is_file()]
        if missing:
            raise RegistryError(f"no such file: {', '.join(missing)}")
        # Refused here, before anything is copied, if the files do not read.
        load_test_data(
            given["intent_data"],
            given.get("sentiment_data"),
            given.get("knowledge_base"),
            given.get("retrieval_queries"),
        )
        target = self.folder / TEST_SET_DIR
        scratch = self.folder / (TEST_SET_DIR + ".new")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        described = {}
        for role, path in given.items():
            name = f"{role}{path.suffix}"
            shutil.copyfile(path, scratch / name)
            described[role] = {"file": name, "source": str(path), "sha256": _file_hash(path)}
        document = {"files": described, "named_by": by, "named_at": _now()}
        _write_json(scratch / TEST_SET_FILE, document)
        shutil.rmtree(target, ignore_errors=True)
        scratch.replace(target)
        return self.test_set_hash()

    def test_set_hash(self) -> str:
        files = self._test_set_document()["files"]
        digest = hashlib.sha256()
        for role in sorted(files):
            digest.update(f"{role}:{files[role]['sha256']}".encode())
        return digest.hexdigest()

    def test_data(self) -> TestData:
        files = self._test_set_document()["files"]
        paths = {role: self.folder / TEST_SET_DIR / files[role]["file"] for role in files}
        return load_test_data(
            paths["intent_data"],
            paths.get("sentiment_data"),
            paths.get("knowledge_base"),
            paths.get("retrieval_queries"),
        )

    def _test_set_document(self) -> dict[str, Any]:
        path = self.folder / TEST_SET_DIR / TEST_SET_FILE
        if not path.is_file():
            raise RegistryError(
                f"the registry in {self.folder} has no test set: name one with `cxagent models "
                "test-set --intent-data … [--sentiment-data …] [--knowledge-base … "
                "--retrieval-queries …]`"
            )
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return document

    # Versions -----------------------------------------------------------------------------

    def register(self, bundle_dir: Path, by: str) -> ModelRecord:
        """Copy the bundle into the registry as a new candidate version."""
        info = read_info(bundle_dir)
        fingerprint = bundle_fingerprint(bundle_dir)
        for record in self.records():
            if record.version.endswith(fingerprint[:10]):
                raise RegistryError(f"{bundle_dir} is registered already, as {record.version}")
        now = datetime.now(UTC)
        version = f"{now:%Y%m%d-%H%M%S}-{fingerprint[:10]}"
        target = self.folder / VERSIONS_DIR / version
        scratch = self.folder / VERSIONS_DIR / (version + ".new")
        # The bundle's files (and its ONNX export, if any) as they are; the folder's name is the
        # version, which the served encoder's name shows (/health).
        shutil.copytree(bundle_dir, scratch)
        record = ModelRecord(
            version=version,
            registered_at=now.isoformat(),
            registered_by=by,
            source=str(bundle_dir.resolve()),
            base_model=info.base_model,
            intent_labels=list(info.intent_labels),
            training=dict(info.training),
            data=dict(info.data),
        )
        _write_json(scratch / RECORD_FILE, asdict(record))
        scratch.replace(target)
        return record

    def records(self) -> list[ModelRecord]:
        """Every version, oldest first, with its status as the serving log has it."""
        folder = self.folder / VERSIONS_DIR
        paths = sorted(folder.glob(f"*/{RECORD_FILE}")) if folder.is_dir() else []
        records = [self._read_record(path) for path in paths]
        serving, served = self._statuses()
        for record in records:
            record.status = (
                Status.SERVING
                if record.version == serving
                else Status.RETIRED
                if record.version in served
                else Status.CANDIDATE
            )
        return records

    def record(self, version: str) -> ModelRecord:
        path = self.folder / VERSIONS_DIR / version / RECORD_FILE
        if not VERSION_ID.fullmatch(version) or not path.is_file():
            known = ", ".join(record.version for record in self.records()) or "none yet"
            raise UnknownVersion(f"no model version {version!r} in {self.folder} (known: {known})")
        record = self._read_record(path)
        serving, served = self._statuses()
        record.status = (
            Status.SERVING
            if version == serving
            else Status.RETIRED
            if version in served
            else Status.CANDIDATE
        )
        return record

    def bundle_dir(self, version: str) -> Path:
        return self.folder / VERSIONS_DIR / version

    def evaluate(self, version: str, again: bool = False, measure: bool = True) -> dict[str, float]:
        """The version's measures on the test set, measured once per test set (``again``
        measures anew) and kept in its record; ``measure`` False raises NotMeasured instead of
        loading the model."""
        record = self.record(version)
        test_set = self.test_set_hash()
        evaluation = record.evaluation
        if evaluation is not None and evaluation.get("test_set") == test_set and not again:
            return dict(evaluation["measures"])
        if not measure:
            raise NotMeasured(
                f"{version} is not measured on the current test set: run `cxagent models "
                f"evaluate {version}` first"
            )
        measures = self.measurer(self.bundle_dir(version), self.test_data())
        record.evaluation = {"test_set": test_set, "measured_at": _now(), "measures": measures}
        self._write_record(record)
        return measures

    def corrections_since(self, version: str) -> int:
        """Messages staff corrected the intent of that came in after the version was registered:
        what a retraining would add."""
        registered = datetime.fromisoformat(self.record(version).registered_at)
        with self.sessions() as session:
            count = session.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.corrected_intent.is_not(None), Message.created_at > registered)
            )
        return int(count or 0)

    # Serving ------------------------------------------------------------------------------

    def serving_version(self) -> str | None:
        """The version every worker should serve; None: CXAGENT_NLU_BUNDLE."""
        with self.sessions() as session:
            latest = session.scalars(
                select(ModelServing).order_by(ModelServing.id.desc()).limit(1)
            ).first()
        return latest.version if latest is not None else None

    def serving_bundle(self) -> Path | None:
        """The bundle folder to serve: the promoted version's, else CXAGENT_NLU_BUNDLE."""
        version = self.serving_version()
        return self.bundle_dir(version) if version is not None else self.configured_bundle

    def compare(self, version: str, measure: bool = True) -> Comparison:
        """The candidate beside what serves now, on the test set (``measure`` False: from the
        evaluations kept, or NotMeasured)."""
        self.record(version)  # an unknown version is refused before anything is measured
        candidate = self.evaluate(version, measure=measure)
        serving = self.serving_version()
        if serving is not None:
            reference, serving_name = self.evaluate(serving, measure=measure), serving
        elif self.configured_bundle is not None:
            if not measure:
                raise NotMeasured(
                    f"{CONFIGURED} serves, which is measured only by `cxagent models promote`"
                )
            reference = self.measurer(self.configured_bundle, self.test_data())
            serving_name = f"{CONFIGURED} ({self.configured_bundle.name})"
        else:
            reference, serving_name = {}, f"{CONFIGURED} (none: retrieval only)"
        return Comparison(
            version, serving_name, candidate, reference, worse_than(candidate, reference)
        )

    def promote(
        self, version: str, by: str, force: bool = False, measure: bool = True
    ) -> Comparison:
        """Serve ``version`` from now on, if it is no worse than what serves (or ``force``);
        raises PromotionRefused with the comparison otherwise."""
        current = self.serving_version()
        if version == current:
            raise RegistryError(f"{version} is serving already")
        comparison = self.compare(version, measure)
        if comparison.worse and not force:
            raise PromotionRefused(comparison)
        change = ModelServing(
            version=version,
            previous=current,
            action=Action.PROMOTE,
            by=by,
            forced=bool(comparison.worse) and force,
            metrics=comparison.as_dict(),
        )
        self._log(change)
        return comparison

    def rollback(self, by: str) -> str | None:
        """Serve again what served before the latest promotion still in force; returns it
        (None: CXAGENT_NLU_BUNDLE)."""
        stack = self._promoted_stack()
        if not stack:
            raise RegistryError("nothing to roll back: no promoted version serves")
        current = stack.pop()
        back = stack[-1] if stack else None
        self._log(
            ModelServing(version=back, previous=current, action=Action.ROLLBACK, by=by, metrics={})
        )
        return back

    def history(self) -> list[ServingChange]:
        with self.sessions() as session:
            rows = session.scalars(select(ModelServing).order_by(ModelServing.id)).all()
            return [
                ServingChange(
                    row.action,
                    row.version,
                    row.previous,
                    row.by,
                    row.forced,
                    row.created_at,
                    row.metrics,
                )  # fmt: skip
                for row in rows
            ]

    def _promoted_stack(self) -> list[str]:
        """The promotions still in force, oldest first: each rollback undoes the latest."""
        stack: list[str] = []
        for change in self.history():
            if change.action == Action.PROMOTE and change.version is not None:
                stack.append(change.version)
            elif change.action == Action.ROLLBACK and stack:
                stack.pop()
        return stack

    def _statuses(self) -> tuple[str | None, set[str]]:
        """The serving version, and every version that ever served."""
        history = self.history()
        served = {change.version for change in history if change.version is not None}
        return (history[-1].version if history else None), served

    def _log(self, row: ModelServing) -> None:
        with self.sessions.begin() as session:
            session.add(row)
        # The records of both versions keep the event too, for whoever reads the folder.
        event = {
            "action": row.action,
            "version": row.version,
            "previous": row.previous,
            "by": row.by,
            "forced": row.forced,
            "at": _now(),
            "metrics": row.metrics,
        }
        for version in (row.version, row.previous):
            path = self.folder / VERSIONS_DIR / str(version) / RECORD_FILE
            if version is None or not path.is_file():
                # The database's log is the record; a version's folder removed by hand only
                # loses its copy.
                continue
            record = self._read_record(path)
            record.history.append(event)
            record.status = Status.SERVING if version == row.version else Status.RETIRED
            self._write_record(record)

    def _read_record(self, path: Path) -> ModelRecord:
        try:
            return ModelRecord(**json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as error:
            raise RegistryError(f"{path} is unreadable: {error}") from None

    def _write_record(self, record: ModelRecord) -> None:
        _write_json(self.folder / VERSIONS_DIR / record.version / RECORD_FILE, asdict(record))


def _write_json(path: Path, document: Any) -> None:
    # Beside and renamed: a worker or another command never reads half a record.
    scratch = path.with_suffix(".json.tmp")
    scratch.write_text(json.dumps(document, indent=2, sort_keys=True), encoding="utf-8")
    scratch.replace(path)


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat()
