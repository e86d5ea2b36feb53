"""Export a bundle for ONNX Runtime: the encoder with its adapter merged, pooling and both heads
in one graph, and a quantised int8 copy where it keeps accuracy.

ONNX Runtime runs the same graph as PyTorch eager several times faster on a CPU (3.6 ms against
17 ms for one message on 2 cores when this was written), and dynamic int8 quantisation faster
again, but int8 is lossy. So the export measures both on the bundle's own test data beside
PyTorch: intent accuracy, sentiment macro recall, out-of-scope recall and retrieval recall@1.
A quantisation that loses more than ``TOLERANCE_POINTS`` on any of them is refused (kept off
disk, with its table in the report); per-channel weights are tried before giving up.

Files, in the bundle's ``onnx/`` folder: ``model.onnx`` (fp32), ``model.int8.onnx`` when it
passed, and ``export.json`` (the table, which file serves, and the fingerprint of the bundle
files it was exported from, so that a retrained bundle never serves a stale graph).
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from finetune.accuracy_gate import TestData, measure, worse_than
from finetune.bundle import NLUBundle
from finetune.bundle_format import BundleError
from finetune.modeling import MultiTaskModel
from finetune.onnx_runtime import (
    FP32_FILE,
    INT8_FILE,
    ONNX_DIR,
    REPORT_FILE,
    ExportReport,
    OnnxBundle,
    bundle_fingerprint,
)
from finetune.serving import BundleEncoder

logger = logging.getLogger(__name__)

OPSET = 18


def export_onnx(
    bundle_dir: Path,
    test: TestData,
    base_model: str | None = None,
    progress: Callable[[str], None] = logger.info,
) -> ExportReport:
    """Export the bundle in ``bundle_dir`` to ``bundle_dir/onnx`` and measure it (see above)."""
    reference = BundleEncoder(bundle_dir, base_model)
    bundle = reference.bundle
    out = bundle_dir / ONNX_DIR
    out.mkdir(exist_ok=True)
    fingerprint = bundle_fingerprint(bundle_dir)
    progress("exporting the fp32 graph")
    _export_fp32(bundle, out / FP32_FILE)
    scores = {"pytorch": measure(bundle, reference, test)}
    progress(f"PyTorch: {scores['pytorch']}")
    fp32 = OnnxBundle(bundle.info, out / FP32_FILE, bundle_dir, base_model)
    scores["onnx-fp32"] = measure(fp32, fp32, test)
    progress(f"ONNX Runtime fp32: {scores['onnx-fp32']}")
    refused: dict[str, str] = {}
    problem = worse_than(scores["onnx-fp32"], scores["pytorch"])
    if problem:
        raise BundleError(f"the exported fp32 graph does not reproduce the bundle: {problem}")
    served = FP32_FILE
    (out / INT8_FILE).unlink(missing_ok=True)
    for name, per_channel in (("onnx-int8", False), ("onnx-int8-per-channel", True)):
        progress(f"quantising: {name}")
        with tempfile.TemporaryDirectory() as scratch:
            candidate = Path(scratch) / INT8_FILE
            _quantise(out / FP32_FILE, candidate, per_channel)
            int8 = OnnxBundle(bundle.info, candidate, bundle_dir, base_model)
            scores[name] = measure(int8, int8, test)
            progress(f"{name}: {scores[name]}")
            problem = worse_than(scores[name], scores["pytorch"])
            if problem:
                refused[name] = problem
                continue
            candidate.replace(out / INT8_FILE)
            served = INT8_FILE
            break
    report = ExportReport(
        fingerprint=fingerprint,
        scores=scores,
        served=served,
        refused=refused,
        test_rows={
            "intents": len(test.intents),
            "sentiments": len(test.sentiments or ()),
            "retrieval_queries": len(test.retrieval_queries or ()),
        },
    )
    (out / REPORT_FILE).write_text(json.dumps(asdict(report), indent=2), encoding="utf-8")
    return report


def _export_fp32(bundle: NLUBundle, path: Path) -> None:
    """The dynamo-based exporter (torch.export), with the batch and the message length free."""
    graph = _ServedGraph(bundle.model).eval()
    example = bundle.model.tokenizer(
        ["an example message", "a second, longer example message"],
        padding=True,
        return_tensors="pt",
    )
    outputs = ["vector", "intent_logits"]
    if bundle.model.sentiment_head is not None:
        outputs.append("sentiment_logits")
    free = {0: torch.export.Dim("batch", min=1, max=4096), 1: torch.export.Dim("tokens", max=512)}
    # The exporter warns about its own internals (deprecated pytree and shape-naming APIs);
    # they say nothing about this graph, which the measures below check against PyTorch.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=UserWarning)
        program = torch.onnx.export(
            graph,
            (example["input_ids"], example["attention_mask"]),
            input_names=["input_ids", "attention_mask"],
            output_names=outputs,
            dynamic_shapes=(free, free),
            opset_version=OPSET,
            dynamo=True,
        )
    if program is None:
        raise BundleError("torch.onnx.export returned no program")
    program.save(str(path))


def _quantise(source: Path, target: Path, per_channel: bool) -> None:
    """Dynamic int8 weights for the matrix products only.

    ONNX Runtime's default also quantises the Gather that looks up the word embeddings: on the
    demo bundle that cost 1.2 points of intent accuracy even per channel, where the matrix
    products alone, per channel, lost nothing on any measure (retrieval gained a point).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
        op_types_to_quantize=["MatMul", "Gemm"],
    )


class _ServedGraph(nn.Module):
    """Token ids in; retrieval vector and head logits out: one pass of the served model."""

    def __init__(self, model: MultiTaskModel):
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        vectors, features = self.model.encode_tokens(input_ids, attention_mask)
        outputs = [vectors, self.model.intent_head(features)]
        if self.model.sentiment_head is not None:
            outputs.append(self.model.sentiment_head(features))
        return tuple(outputs)
