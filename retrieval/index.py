"""A FAISS inner-product index over encoded texts, saved with metadata that says what built it.

Vectors are unit length, so inner product is cosine similarity. ``flat`` is exact and right for
corpora up to some hundred thousand rows; ``hnsw`` and ``ivf`` trade a little recall for speed on
larger ones. Files: ``index.faiss`` (vectors) and ``index.json`` (metadata and row keys).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import faiss
import numpy as np

from retrieval.encoder import Encoder
from retrieval.errors import CxagentError
from retrieval.inference import run_inference

IndexType = Literal["flat", "hnsw", "ivf"]
INDEX_FILE = "index.faiss"
METADATA_FILE = "index.json"
FORMAT_VERSION = 1


class RetrievalIndexError(CxagentError, RuntimeError):
    pass


class IndexMissing(RetrievalIndexError):
    pass


class IndexStale(RetrievalIndexError):
    pass


@dataclass(frozen=True)
class Hit:
    corpus_id: int
    key: str
    score: float


@dataclass(frozen=True)
class IndexMetadata:
    format_version: int
    encoder_name: str
    encoder_fingerprint: str
    dim: int
    index_type: str
    corpus_hash: str
    rows: int
    created_at: str

    def stale_reason(self, encoder: Encoder, corpus_hash: str) -> str | None:
        """Why this index cannot serve ``encoder`` over the corpus with ``corpus_hash``, or None."""
        if self.format_version != FORMAT_VERSION:
            return f"index format {self.format_version}, this version reads {FORMAT_VERSION}"
        if self.encoder_fingerprint != encoder.fingerprint:
            return (
                f"built with encoder {self.encoder_name}, whose weights differ from {encoder.name}"
            )
        if self.corpus_hash != corpus_hash:
            return "the knowledge base has changed since the index was built"
        return None


def _new_faiss_index(index_type: IndexType, dim: int, rows: int) -> faiss.Index:
    if index_type == "flat":
        return faiss.IndexFlatIP(dim)
    if index_type == "hnsw":
        hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        hnsw.hnsw.efSearch = 64
        return hnsw
    if index_type == "ivf":
        # About sqrt(n) lists, but FAISS wants some 39 training points per list.
        nlist = max(1, min(int(math.sqrt(rows)), rows // 39))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.nprobe = min(nlist, 8)
        return ivf
    raise ValueError(f"unknown index type {index_type!r}; choose flat, hnsw or ivf")


class VectorIndex:
    """Rows of (vector, key); ``search`` returns the best rows by cosine similarity."""

    def __init__(self, index: faiss.Index, keys: list[str], metadata: IndexMetadata) -> None:
        if index.ntotal != len(keys):
            raise RetrievalIndexError(f"index holds {index.ntotal} vectors but {len(keys)} keys")
        self.index = index
        self.keys = keys
        self.metadata = metadata

    @classmethod
    def build(
        cls,
        encoder: Encoder,
        texts: list[str],
        keys: list[str],
        corpus_hash: str,
        index_type: IndexType = "flat",
        vectors: np.ndarray | None = None,
    ) -> VectorIndex:
        """Encode ``texts`` (unless ``vectors`` are given) and index them under ``keys``."""
        if len(texts) != len(keys) or not texts:
            raise ValueError(
                f"need as many keys as texts, at least one: {len(texts)} vs {len(keys)}"
            )
        if vectors is None:
            vectors = encoder.encode(texts)
        index = _new_faiss_index(index_type, encoder.dim, len(texts))
        if not index.is_trained:
            index.train(vectors)
        index.add(vectors)
        metadata = IndexMetadata(
            format_version=FORMAT_VERSION,
            encoder_name=encoder.name,
            encoder_fingerprint=encoder.fingerprint,
            dim=encoder.dim,
            index_type=index_type,
            corpus_hash=corpus_hash,
            rows=len(texts),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        return cls(index, list(keys), metadata)

    def search(self, vectors: np.ndarray, k: int) -> list[list[Hit]]:
        """For each query row, up to ``k`` hits, best first."""
        k = min(k, len(self.keys))
        queries = np.ascontiguousarray(vectors, dtype=np.float32)
        scores, ids = run_inference(self.index.search, queries, k)
        # Python numbers first: converting numpy's one by one cost a tenth of a busy process.
        return [
            [Hit(i, self.keys[i], s) for i, s in zip(row_ids, row_scores, strict=True) if i >= 0]
            for row_ids, row_scores in zip(ids.tolist(), scores.tolist(), strict=True)
        ]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        # Write beside and rename, so a reader never sees half a file.
        temporary = directory / (INDEX_FILE + ".tmp")
        faiss.write_index(self.index, str(temporary))
        temporary.replace(directory / INDEX_FILE)
        document = {"metadata": asdict(self.metadata), "keys": self.keys}
        temporary = directory / (METADATA_FILE + ".tmp")
        temporary.write_text(json.dumps(document), encoding="utf-8")
        temporary.replace(directory / METADATA_FILE)

    @classmethod
    def load(cls, directory: Path) -> VectorIndex:
        """Load read-only (memory-mapped); raises IndexMissing if there is none."""
        index_path, metadata_path = directory / INDEX_FILE, directory / METADATA_FILE
        if not index_path.is_file() or not metadata_path.is_file():
            raise IndexMissing(f"no index in {directory} (build it with `cxagent index`)")
        try:
            document = json.loads(metadata_path.read_text(encoding="utf-8"))
            metadata = IndexMetadata(**document["metadata"])
            keys = list(document["keys"])
        except (ValueError, KeyError, TypeError) as error:
            raise IndexStale(
                f"{metadata_path} is unreadable ({error}); rebuild it with `cxagent index`"
            ) from None
        index = faiss.read_index(str(index_path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = 64
        return cls(index, keys, metadata)
