"""A bundle served by ONNX Runtime: what finetune.serving.BundleEncoder does, from the graph
finetune.onnx_export wrote, without PyTorch on the hot path.

The tokenizer is the base model's own ``tokenizer.json`` read by the tokenizers library (what
transformers' fast tokenizer wraps), so token ids are the ones PyTorch sees.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from finetune.bundle_format import (
    ADAPTER_DIR,
    BUNDLE_FILE,
    HEADS_FILE,
    BundleError,
    BundleInfo,
    predictions,
    read_info,
    vectors_fingerprint,
)
from finetune.reading import Prediction
from retrieval.encoder import encode_in_length_order, padding_groups

logger = logging.getLogger(__name__)

# In the bundle's folder (finetune.onnx_export writes them).
ONNX_DIR = "onnx"
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
REPORT_FILE = "export.json"


@dataclass
class ExportReport:
    """What was exported, how each runtime scored, and which graph serves."""

    fingerprint: str
    # Runtime name ("pytorch", "onnx-fp32", "onnx-int8", "onnx-int8-per-channel") → measures.
    scores: dict[str, dict[str, float]]
    served: str  # the file the service loads: FP32_FILE or INT8_FILE
    # Why each refused quantisation was refused.
    refused: dict[str, str] = field(default_factory=dict)
    test_rows: dict[str, int] = field(default_factory=dict)

    @property
    def precision(self) -> str:
        """What serves, in words: ``int8`` or ``fp32``."""
        return "int8" if self.served == INT8_FILE else "fp32"

    def table(self) -> str:
        measures = sorted({name for scores in self.scores.values() for name in scores})
        lines = [
            "| runtime | " + " | ".join(measures) + " |",
            "| --- |" + " --- |" * len(measures),
        ]
        for runtime, scores in self.scores.items():
            cells = [f"{scores[m]:.4f}" if m in scores else "" for m in measures]
            lines.append(f"| {runtime} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def bundle_fingerprint(directory: Path) -> str:
    """A hash of the files that decide the graph: the bundle's description, adapter and heads."""
    digest = hashlib.sha256()
    paths = [directory / BUNDLE_FILE, directory / HEADS_FILE]
    paths += sorted((directory / ADAPTER_DIR).glob("*.safetensors"))
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def read_report(bundle_dir: Path) -> ExportReport | None:
    """The bundle's export report, or None when it has no ONNX export."""
    path = bundle_dir / ONNX_DIR / REPORT_FILE
    if not path.exists():
        return None
    try:
        return ExportReport(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as error:
        raise BundleError(f"{path} is unreadable: {error}; export again") from None


def load_exported(
    bundle_dir: Path, base_model: str | None = None, threads: int | None = None, fp32: bool = False
) -> OnnxBundle | None:
    """The bundle's exported graph, ready to serve: the one its export chose (int8 where it
    passed its accuracy gate), or with ``fp32`` the fp32 one. None (and why, in the log) when the
    bundle has no export or was changed after it."""
    report = read_report(bundle_dir)
    if report is None:
        logger.info(
            "%s has no ONNX export: serving with PyTorch (`cxagent export-onnx` makes one)",
            bundle_dir,
        )
        return None
    if report.fingerprint != bundle_fingerprint(bundle_dir):
        logger.warning(
            "the ONNX export in %s was made from an earlier version of the bundle: serving with "
            "PyTorch; export again with `cxagent export-onnx`",
            bundle_dir,
        )
        return None
    graph = bundle_dir / ONNX_DIR / (FP32_FILE if fp32 else report.served)
    return OnnxBundle(read_info(bundle_dir), graph, bundle_dir, base_model, threads)


# Texts per forward pass when encoding many (the knowledge base at start-up).
ENCODE_BATCH = 64


class OnnxBundle:
    """An exported bundle: reads messages (``read_many``) and encodes texts for the
    knowledge-base index (``encode``); also ``logits`` and ``info``, as NLUBundle has them."""

    def __init__(
        self,
        info: BundleInfo,
        graph: Path,
        bundle_dir: Path,
        base_model: str | None = None,
        threads: int | None = None,
    ):
        import onnxruntime
        from tokenizers import Tokenizer

        from retrieval.encoder import resolve_model_path

        self.info = info
        self.graph = graph
        self.directory = bundle_dir
        tokenizer_file = resolve_model_path(base_model or info.base_model) / "tokenizer.json"
        if not tokenizer_file.exists():
            raise BundleError(f"{tokenizer_file} is missing: the base model has no fast tokenizer")
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(max_length=info.max_length)
        self.tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        # One caller thread runs every pass (retrieval.inference); no inter-op pool is needed.
        options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(
                str(graph), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise BundleError(f"{graph} could not be loaded by ONNX Runtime: {error}") from None
        self._outputs = [output.name for output in self.session.get_outputs()]
        # The fp32 graph computes PyTorch's vectors (to 1e-6), so it shares their index; a
        # quantised graph's vectors differ, and so does its index.
        self._fingerprint = vectors_fingerprint(bundle_dir, info.base_fingerprint)
        if graph.name != FP32_FILE:
            self._fingerprint = hashlib.sha256(
                f"{self._fingerprint}:{graph.name}:{_file_hash(graph)}".encode()
            ).hexdigest()
        self._dim = int(self.session.get_outputs()[0].shape[1])

    @property
    def name(self) -> str:
        return f"{self.info.base_model} + bundle {self.directory.name} (ONNX {self.graph.name})"

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def dim(self) -> int:
        return self._dim

    def run(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """One forward pass: (retrieval vectors, intent logits, sentiment logits or None)."""
        return self._pass(*self._tokens(texts))

    def _tokens(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and attention mask, padded on the right to the longest text."""
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        return ids, np.array([e.attention_mask for e in encodings], dtype=np.int64)

    def _pass(
        self, ids: np.ndarray, mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        found = self.session.run(self._outputs, {"input_ids": ids, "attention_mask": mask})
        return found[0], found[1], (found[2] if len(found) > 2 else None)

    def encode(self, texts: list[str]) -> np.ndarray:
        return encode_in_length_order(texts, ENCODE_BATCH, lambda batch: self.run(batch)[0])

    def logits(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
        intents, sentiments = [], []
        for start in range(0, len(texts), ENCODE_BATCH):
            _, intent, sentiment = self.run(texts[start : start + ENCODE_BATCH])
            intents.append(intent)
            if sentiment is not None:
                sentiments.append(sentiment)
        return np.concatenate(intents), (np.concatenate(sentiments) if sentiments else None)

    def read_many(self, texts: list[str]) -> list[tuple[np.ndarray, Prediction]]:
        """Several messages, each one's retrieval vector and prediction: in passes of messages
        of like length (retrieval.encoder.padding_groups), as the messages waiting together
        are rarely of one length, and a pass computes every padding token it is given."""
        ids, mask = self._tokens(texts)
        lengths = mask.sum(axis=1)
        groups = padding_groups(lengths.tolist())
        passes = []
        for group in groups:
            longest = lengths[group].max()
            passes.append(self._pass(ids[group, :longest], mask[group, :longest]))
        # The passes' rows follow the groups; these positions put them back in text order.
        in_order = np.argsort(np.concatenate(groups))

        def joined(output: int) -> np.ndarray:
            return np.concatenate([found[output] for found in passes])[in_order]

        vectors, intents = joined(0), joined(1)
        sentiments = joined(2) if passes[0][2] is not None else None
        return list(zip(vectors, predictions(self.info, intents, sentiments), strict=True))


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
