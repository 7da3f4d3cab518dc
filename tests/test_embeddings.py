"""The lazy MiniLM embedder: same vectors as sentence-transformers, disk cache, honest unavailability."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.prompting.embeddings import Embedder, EmbedderUnavailable, packaged_model_dir

SENTENCES = ["rainy night in tokyo", "an upbeat 8-bit chiptune for a boss fight at 150 bpm"]


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    emb = Embedder(cache_dir=tmp_path_factory.mktemp("emb-cache"))
    ok, reason = emb.available()
    if not ok:
        pytest.skip(reason)
    return emb


def test_the_model_ships_in_the_package() -> None:
    model_dir = packaged_model_dir()
    assert model_dir is not None and (model_dir / "model.safetensors").is_file()


def test_unit_vectors_and_meaningful_similarity(embedder: Embedder) -> None:
    vectors = embedder.embed(["a sad piano song", "a melancholic piano piece", "a loud drum solo"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_matches_sentence_transformers(embedder: Embedder) -> None:
    sentence_transformers = pytest.importorskip("sentence_transformers")
    model_dir = embedder.model_dir
    assert model_dir is not None
    reference = sentence_transformers.SentenceTransformer(str(model_dir), device="cpu")
    expected = reference.encode(SENTENCES, normalize_embeddings=True)
    ours = embedder.embed(SENTENCES)
    for a, b in zip(ours, expected, strict=True):
        assert float(a @ b) / float(np.linalg.norm(b)) > 0.999


def test_cached_embeddings_persist_on_disk(embedder: Embedder, tmp_path: Path) -> None:
    texts = ["a description", "another description"]
    first = embedder.embed_cached(texts)
    path = embedder.cache_path(texts)
    assert path is not None and path.is_file()
    # A fresh process (a new embedder on the same dir) reads the file instead of recomputing.
    fresh = Embedder(model_dir=embedder.model_dir, cache_dir=path.parent)
    fresh.embed = None  # type: ignore[assignment,method-assign]  # would raise if it tried to compute
    again = fresh.embed_cached(texts)
    assert np.array_equal(first, again)
    # Different texts, different key.
    assert embedder.cache_key(texts) != embedder.cache_key([*texts, "a third"])


def test_damaged_cache_file_is_recomputed(embedder: Embedder, tmp_path: Path) -> None:
    texts = ["one more description"]
    emb = Embedder(model_dir=embedder.model_dir, cache_dir=tmp_path)
    emb._model, emb._tokenizer = embedder._model, embedder._tokenizer  # share the loaded model
    path = emb.cache_path(texts)
    assert path is not None
    path.write_bytes(b"not an npy file")
    vectors = emb.embed_cached(texts)
    assert vectors.shape == (1, 384)
    assert np.load(path).shape == (1, 384)


def test_missing_model_says_why(tmp_path: Path) -> None:
    emb = Embedder(model_dir=tmp_path / "nowhere", cache_dir=tmp_path)
    ok, reason = emb.available()
    assert not ok and "meaning match off" in reason and "nowhere" in reason
    with pytest.raises(EmbedderUnavailable):
        emb.embed(["hello"])
    with pytest.raises(EmbedderUnavailable):
        emb.embed_cached(["hello"])


def test_broken_model_fails_once_and_stays_unavailable(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    emb = Embedder(model_dir=tmp_path)
    assert emb.available()[0]
    with pytest.raises(EmbedderUnavailable):
        emb.embed(["hello"])
    ok, reason = emb.available()
    assert not ok and "could not load" in reason


def test_warm_caches_the_tag_descriptions(embedder: Embedder, tmp_path: Path) -> None:
    from services.prompting.interpreter import meaning_texts

    emb = Embedder(model_dir=embedder.model_dir, cache_dir=tmp_path)
    assert emb.warm(meaning_texts()) == (True, "ready")
    path = emb.cache_path(meaning_texts())
    assert path is not None and np.load(path).shape == (len(meaning_texts()), 384)
    missing = Embedder(model_dir=tmp_path / "missing")
    ok, reason = missing.warm(meaning_texts())
    assert not ok and "meaning match off" in reason
