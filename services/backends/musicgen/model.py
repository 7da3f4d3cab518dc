"""MusicGen and its tokenizer, loaded once per process and shared by every worker thread.

transformers' MusicGen processors are not used: the melody one needs torchaudio, which does not import
beside our torch, and the text one only pads what the tokenizer and services/backends/musicgen/chroma.py
already give. The checkpoint's own config says which class it is (plain or melody).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.backends.model_loading import MODEL_LOAD_LOCK, resolve_device

# the melody feature extractor's defaults (facebook/musicgen-melody), used when its config is absent
MELODY_N_FFT = 4096 * 4
MELODY_HOP = 4096


@dataclass(frozen=True)
class LoadConfig:
    """Where the model comes from and how it runs; equal configs share one loaded model."""

    model: str  # hub id or local folder with config.json
    revision: str | None = None
    device: str = "auto"
    dtype: str = "auto"  # auto: float16 on CUDA, float32 elsewhere


@dataclass(frozen=True)
class Loaded:
    """A loaded checkpoint and the facts about it the backend needs."""

    model: Any  # MusicgenForConditionalGeneration or MusicgenMelodyForConditionalGeneration
    tokenizer: Any
    device: str
    melody: bool  # conditioned on a chroma melody (input_features)
    sample_rate: int  # EnCodec's rate (32 kHz for Meta's checkpoints)
    frame_rate: float  # codes a second (50)
    codebooks: int  # parallel code streams per channel (4)
    channels: int  # audio channels (1; 2 for the stereo checkpoints)
    chroma_frames: int  # melody: chroma frames the model reads (235 ≈ 30 s)
    melody_n_fft: int = MELODY_N_FFT
    melody_hop: int = MELODY_HOP


_models: dict[LoadConfig, Loaded] = {}
_lock = threading.Lock()


def get_model(config: LoadConfig) -> Loaded:
    """The shared model for `config`, loaded on first use (never downloaded: local files only)."""
    with _lock:
        found = _models.get(config)
        if found is None:
            found = _models[config] = _load(config)
        return found


def _load(config: LoadConfig) -> Loaded:
    import torch
    from transformers import (
        AutoConfig,
        AutoTokenizer,
        MusicgenForConditionalGeneration,
        MusicgenMelodyForConditionalGeneration,
    )

    device = resolve_device(config.device)
    dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}.get(
        config.dtype, torch.float16 if device == "cuda" else torch.float32
    )
    where = {"revision": config.revision, "local_files_only": True}
    with MODEL_LOAD_LOCK:
        kind = AutoConfig.from_pretrained(config.model, **where).model_type
        melody = kind == "musicgen_melody"
        cls: Any = MusicgenMelodyForConditionalGeneration if melody else MusicgenForConditionalGeneration
        model = cls.from_pretrained(config.model, dtype=dtype, **where).to(device).eval()
        tokenizer = AutoTokenizer.from_pretrained(config.model, **where)
    n_fft, hop = _melody_params(config) if melody else (MELODY_N_FFT, MELODY_HOP)
    audio = model.config.audio_encoder
    return Loaded(
        model=model,
        tokenizer=tokenizer,
        device=device,
        melody=melody,
        sample_rate=int(audio.sampling_rate),
        frame_rate=float(audio.frame_rate),
        codebooks=int(model.decoder.config.num_codebooks) // int(model.decoder.config.audio_channels),
        channels=int(model.decoder.config.audio_channels),
        chroma_frames=int(getattr(model.config, "chroma_length", 0)),
        melody_n_fft=n_fft,
        melody_hop=hop,
    )


def _melody_params(config: LoadConfig) -> tuple[int, int]:
    """n_fft and hop of the checkpoint's melody feature extractor, read from its preprocessor_config.json
    (the extractor class itself needs torchaudio)."""
    from transformers.utils import cached_file

    try:
        path = cached_file(
            config.model,
            "preprocessor_config.json",
            revision=config.revision,
            local_files_only=True,
            _raise_exceptions_for_missing_entries=False,
        )
    except OSError:
        path = None
    if not path:
        return MELODY_N_FFT, MELODY_HOP
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return int(data.get("n_fft", MELODY_N_FFT)), int(data.get("hop_length", MELODY_HOP))


def forget_models() -> None:
    """Drop every loaded model (tests, or freeing GPU memory after a settings change)."""
    with _lock:
        _models.clear()
