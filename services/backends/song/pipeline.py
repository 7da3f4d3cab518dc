"""diffusers' AceStepPipeline, loaded once per process, with the three things batching needs.

Why a subclass (a little duplication over a hasty abstraction): the stock pipeline takes one bpm, key,
metre and task instruction per call, pads the text of a batch to its longest member, and encodes source
audio by sampling the VAE's posterior from the global random generator. So a song sung in a batch would
not equal the same song sung alone, and a cover would not repeat from its seed. `SongPipeline` keeps the
denoising loop as diffusers wrote it and changes only `encode_prompt` (per-item metadata and instruction;
text and lyrics padded to fixed length buckets, so an item's conditioning does not depend on its company)
and `prepare_src_latents` (the posterior's mean: the same source gives the same latents).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.backends.model_loading import MODEL_LOAD_LOCK, resolve_device

if TYPE_CHECKING:
    import torch

TEXT_BUCKET = 64  # tokens: prompts are padded to a multiple of this …
LYRIC_BUCKET = 128  # … and lyrics to a multiple of this, so batch-mates share a length
MAX_TEXT_TOKENS = 256  # as ACE-Step's own handler
MAX_LYRIC_TOKENS = 2048


@dataclass(frozen=True)
class LoadConfig:
    """Where the model comes from and how it runs; equal configs share one loaded model."""

    model: str  # hub id or local folder with model_index.json
    revision: str | None = None
    device: str = "auto"
    dtype: str = "auto"  # auto: bfloat16 on CUDA (fp16 where bf16 is missing), float32 elsewhere
    offload: str = "none"  # "model": diffusers' model CPU offload (each part on the GPU while it runs)


def _bucket(length: int, step: int, cap: int) -> int:
    return min(cap, max(step, math.ceil(length / step) * step))


def _per_item(value: Any, count: int) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value] * count


def _pipeline_class() -> Any:
    """SongPipeline, defined on first use so importing this module does not import diffusers."""
    global _SONG_PIPELINE
    if _SONG_PIPELINE is not None:
        return _SONG_PIPELINE
    import torch
    from diffusers import AceStepPipeline

    base: Any = AceStepPipeline  # typed loosely: the subclass reaches into its registered modules

    class SongPipeline(base):
        def buckets(self, texts: list[str], lyrics: list[str]) -> tuple[int, int]:
            """The padded (text, lyrics) token lengths these formatted strings need."""
            text_len = max(len(self.tokenizer(t).input_ids) for t in texts)
            lyric_len = max(len(self.tokenizer(t).input_ids) for t in lyrics)
            return (
                _bucket(text_len, TEXT_BUCKET, MAX_TEXT_TOKENS),
                _bucket(lyric_len, LYRIC_BUCKET, MAX_LYRIC_TOKENS),
            )

        def format_item(
            self,
            prompt: str,
            lyrics: str,
            language: str,
            duration_s: float,
            instruction: str,
            bpm: int | None,
            keyscale: str | None,
            timesignature: str | None,
        ) -> tuple[str, str]:
            return self._format_prompt(
                prompt=prompt,
                lyrics=lyrics,
                vocal_language=language,
                audio_duration=duration_s,
                instruction=instruction,
                bpm=bpm,
                keyscale=keyscale,
                timesignature=timesignature,
            )

        def encode_prompt(
            self,
            prompt: str | list[str],
            lyrics: str | list[str],
            device: torch.device,
            vocal_language: str | list[str] = "en",
            audio_duration: float = 60.0,
            instruction: str | list[str] | None = None,
            bpm: int | list[int | None] | None = None,
            keyscale: str | list[str | None] | None = None,
            timesignature: str | list[str | None] | None = None,
            max_text_length: int = MAX_TEXT_TOKENS,
            max_lyric_length: int = MAX_LYRIC_TOKENS,
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
            prompts = [prompt] if isinstance(prompt, str) else list(prompt)
            n = len(prompts)
            words = _per_item(lyrics, n)
            default = self._get_task_instruction("text2music")
            instructions = _per_item(instruction if instruction is not None else default, n)
            formatted = [
                self.format_item(p, w, lang, audio_duration, ins, b, k, ts)
                for p, w, lang, ins, b, k, ts in zip(
                    prompts,
                    words,
                    _per_item(vocal_language, n),
                    instructions,
                    _per_item(bpm, n),
                    _per_item(keyscale, n),
                    _per_item(timesignature, n),
                    strict=True,
                )
            ]
            texts = [f[0] for f in formatted]
            lyric_texts = [f[1] for f in formatted]
            text_len, lyric_len = self.buckets(texts, lyric_texts)
            text_in = self.tokenizer(
                texts, padding="max_length", truncation=True, max_length=text_len, return_tensors="pt"
            )
            lyric_in = self.tokenizer(
                lyric_texts, padding="max_length", truncation=True, max_length=lyric_len, return_tensors="pt"
            )
            text_ids = text_in.input_ids.to(device)
            lyric_ids = lyric_in.input_ids.to(device)
            text_hidden = self.text_encoder(input_ids=text_ids).last_hidden_state
            lyric_hidden = self.text_encoder.get_input_embeddings()(lyric_ids)
            return (
                text_hidden,
                text_in.attention_mask.to(device).bool(),
                lyric_hidden,
                lyric_in.attention_mask.to(device).bool(),
            )

        def prepare_src_latents(
            self,
            device: torch.device,
            dtype: torch.dtype,
            batch_size: int = 1,
            src_audio: torch.Tensor | None = None,
            audio_codes: Any = None,
            latent_length: int | None = None,
            task_type: str = "text2music",
        ) -> tuple[torch.Tensor, int]:
            if src_audio is None or audio_codes is not None:
                return super().prepare_src_latents(
                    device=device,
                    dtype=dtype,
                    batch_size=batch_size,
                    src_audio=src_audio,
                    audio_codes=audio_codes,
                    latent_length=latent_length,
                    task_type=task_type,
                )
            audio = src_audio.unsqueeze(0) if src_audio.dim() == 2 else src_audio
            audio = audio.to(device=device, dtype=self.vae.dtype)
            latents = self.vae.encode(audio).latent_dist.mode().transpose(1, 2).to(dtype=dtype)
            if latents.shape[0] == 1 and batch_size > 1:
                latents = latents.expand(batch_size, -1, -1)
            length = int(latents.shape[1])
            if task_type == "cover":
                if self.audio_tokenizer is None or self.audio_token_detokenizer is None:
                    raise ValueError("this ACE-Step checkpoint has no audio tokenizer, which covers need")
                silence = self.condition_encoder.silence_latent.to(device=device, dtype=dtype)
                quantized, _ = self.audio_tokenizer.tokenize(latents, silence)
                latents = self.audio_token_detokenizer(quantized.to(device=device, dtype=dtype))
                latents = latents[:, :length, :].contiguous()
            return latents, length

    _SONG_PIPELINE = SongPipeline
    del torch
    return SongPipeline


_SONG_PIPELINE: Any = None
_pipelines: dict[LoadConfig, Any] = {}
_pipelines_lock = threading.Lock()


def run_dtype(device: str, preference: str) -> torch.dtype:
    import torch

    if preference != "auto":
        return getattr(torch, preference)
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load(config: LoadConfig) -> Any:
    """Load from a hub id already in the cache or a local folder — never from the network."""
    device = resolve_device(config.device)
    dtype = run_dtype(device, config.dtype)
    from diffusers.utils import deprecation_utils
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    # loading bars belong in a terminal session, not in a bot's log or a `promptjam make` summary
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()

    # diffusers renamed torch_dtype to dtype (0.36); older releases only know the first
    dtype_arg = "dtype" if hasattr(deprecation_utils, "_TORCH_DTYPE_DEPRECATION_MESSAGE") else "torch_dtype"
    pipe = _pipeline_class().from_pretrained(
        config.model, revision=config.revision, local_files_only=True, **{dtype_arg: dtype}
    )
    if config.offload == "model" and device == "cuda":
        pipe.enable_model_cpu_offload()
    else:
        pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    for name in (
        "transformer",
        "condition_encoder",
        "text_encoder",
        "vae",
        "audio_tokenizer",
        "audio_token_detokenizer",
    ):
        module = getattr(pipe, name, None)
        if module is not None:
            module.eval()
            module.requires_grad_(False)
    pipe.run_device = device
    return pipe


def get_pipeline(config: LoadConfig) -> Any:
    """The process's one loaded model for `config`, loading it on first use (thread-safe)."""
    with _pipelines_lock:
        pipeline = _pipelines.get(config)
        if pipeline is None:
            with MODEL_LOAD_LOCK:
                pipeline = load(config)
            _pipelines[config] = pipeline
        return pipeline


def forget_pipelines() -> None:
    """Drop every loaded model (tests, or freeing GPU memory after a settings change)."""
    with _pipelines_lock:
        _pipelines.clear()
