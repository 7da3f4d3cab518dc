"""The musicgen backend: words → an instrumental (Meta's MusicGen, through transformers).

Read top-down: check the model is there (without loading it); read length, tempo and key from the options
and the prompt (options win; a stated tempo or key is written into the text MusicGen reads, its only
conditioning); build one MusicgenJob per window; run them through the shared batcher, which groups
compatible jobs from every worker thread into one generate() call; join the windows; say what was asked.

- Longer than one window (MusicGen is trained on 30 s): each further window continues the last
  MUSICGEN_OVERLAP_S of what is made so far (an audio prompt), and the seam is crossfaded.
- From a melody (`/music hum`, or an attachment with backend:musicgen): the clip's chroma conditions a
  musicgen-melody checkpoint (services/backends/musicgen/chroma.py), so the tune is the user's.
- Extend: the piece's own audio is continued the same way, and comes back whole and longer.

Sampling is done per item (ItemSampler): each piece draws from its own seeded generator, so a piece
made in a batch is the piece its seed makes alone, and the seed shown makes it again.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from services.audio.decoding import decode_audio
from services.audio.edit import fade_curve, resample
from services.audio.types import Audio
from services.backends.base import (
    BackendStatus,
    BackendUnavailable,
    Generation,
    GenerationRequest,
    ProgressFn,
)
from services.backends.batching import Batcher, StepFn
from services.backends.musicgen import availability
from services.backends.musicgen.chroma import melody_chroma
from services.backends.musicgen.config import MusicgenConfig
from services.backends.musicgen.model import LoadConfig, Loaded, get_model
from services.errors import UserError
from services.prompting.interpreter import interpret

log = logging.getLogger(__name__)

TEXT_BUCKET = 16  # prompts are padded to a multiple of this many tokens, so batch-mates share a length
MAX_TEXT_TOKENS = 256
SEAM_S = 0.5  # crossfade where a continued window meets what came before
MIN_SECONDS = 1.0
MIN_MELODY_S = 1.0  # a melody clip shorter than this carries no tune


@dataclass(frozen=True, eq=False)
class MusicgenJob:
    """One item of a generate() call; items with equal `batch_key` share a call."""

    prompt: str
    seed: int
    frames: int  # codec frames of new audio to make
    melody: bool  # made by the melody checkpoint
    context: npt.NDArray[np.float32] | None = None  # (channels, samples) audio prompt to continue
    chroma: npt.NDArray[np.float32] | None = None  # (frames, 12) one-hot melody
    guidance: float = 3.0
    temperature: float = 1.0
    top_k: int = 250
    text_tokens: int = TEXT_BUCKET

    def batch_key(self) -> Hashable:
        return (
            self.melody,
            self.frames,
            None if self.context is None else self.context.shape,
            None if self.chroma is None else self.chroma.shape,
            self.guidance,
            self.temperature,
            self.top_k,
            self.text_tokens,
        )


def _sampler_class() -> Any:
    """ItemSampler, defined on first use so importing this module does not import transformers."""
    import torch
    from transformers import LogitsProcessor

    class ItemSampler(LogitsProcessor):
        """Samples every item from its own generator (Gumbel-max over the top-k), after its own
        classifier-free guidance, and hands generate() a one-hot choice: greedy decoding then takes
        exactly it, and transformers' own guidance step (which runs after this one) leaves it as it is
        because both halves agree. Counting calls is the per-step progress."""

        def __init__(self, jobs: Sequence[MusicgenJob], streams: int, total: int, on_step: StepFn | None):
            self.generators = [torch.Generator(device="cpu").manual_seed(job.seed) for job in jobs]
            self.streams = streams  # code streams per item (codebooks × channels)
            first = jobs[0]
            self.guidance, self.temperature, self.top_k = first.guidance, first.temperature, first.top_k
            self.total, self.step, self.on_step = total, 0, on_step

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            rows = len(self.generators) * self.streams
            guided = scores.shape[0] == 2 * rows
            logits = scores.float()
            if guided:
                cond, uncond = logits[:rows], logits[rows:]
                logits = uncond + self.guidance * (cond - uncond)
            logits = logits / self.temperature
            k = min(self.top_k, logits.shape[-1])
            kth = torch.topk(logits, k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
            noise = torch.cat(
                [
                    torch.rand((self.streams, logits.shape[-1]), generator=g).clamp_(1e-9, 1.0 - 1e-7)
                    for g in self.generators
                ]
            ).to(logits.device)
            choice = torch.argmax(logits - torch.log(-torch.log(noise)), dim=-1)
            out = torch.full_like(scores, -1e4)
            pick = choice.repeat(2) if guided else choice
            out.scatter_(1, pick.unsqueeze(1).to(out.device), 0.0)
            self.step += 1
            if self.on_step is not None:
                self.on_step(min(self.step, self.total), self.total)
            return out

    return ItemSampler


def render(
    loaded: Loaded, jobs: Sequence[MusicgenJob], on_step: StepFn | None = None
) -> list[npt.NDArray[np.float32]]:
    """One generate() call for `jobs` (equal batch keys): each one's audio, (channels, samples); with a
    context, the codec's rendering of the context comes first (the caller crossfades into it)."""
    import torch
    from transformers import LogitsProcessorList

    first = jobs[0]
    model, device = loaded.model, loaded.device
    text = loaded.tokenizer(
        [job.prompt for job in jobs],
        padding="max_length",
        max_length=first.text_tokens,
        truncation=True,
        return_tensors="pt",
    )
    steps = first.frames + loaded.codebooks - 1  # the delay pattern: one step more per later codebook
    kwargs: dict[str, Any] = {
        "input_ids": text.input_ids.to(device),
        "attention_mask": text.attention_mask.to(device),
    }
    if first.context is not None:
        stacked = np.stack([job.context for job in jobs if job.context is not None])
        kwargs["input_values"] = torch.from_numpy(stacked).to(device, model.dtype)
        kwargs["padding_mask"] = torch.ones(
            stacked.shape[0], stacked.shape[-1], dtype=torch.long, device=device
        )
    if first.chroma is not None:
        chroma = np.stack([job.chroma for job in jobs if job.chroma is not None])
        kwargs["input_features"] = torch.from_numpy(chroma).to(device, model.dtype)
    sampler = _sampler_class()(jobs, loaded.codebooks * loaded.channels, steps, on_step)
    with torch.inference_mode():
        out = model.generate(
            **kwargs,
            max_new_tokens=steps,
            do_sample=False,
            guidance_scale=first.guidance,
            logits_processor=LogitsProcessorList([sampler]),
        )
    audio = out.float().cpu().numpy()  # (batch, channels, samples): the context, then the new audio
    return [np.ascontiguousarray(item, dtype=np.float32) for item in audio]


@dataclass(frozen=True)
class _Asked:
    """What the options and the prompt stated, as MusicGen reads it (words), for the summary."""

    text: str  # the prompt, with a stated tempo and key written in
    duration_s: float
    tempo_bpm: float | None
    key: str | None
    notes: tuple[str, ...] = ()


class MusicgenBackend:
    """MusicGen on transformers: text, melody and continuation, batched across jobs."""

    name: ClassVar[str] = "musicgen"

    def __init__(self, config: MusicgenConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._batchers: dict[bool, Batcher[MusicgenJob, npt.NDArray[np.float32]]] = {}

    # ---- availability ------------------------------------------------------------------------------

    def available(self) -> BackendStatus:
        verdict = availability.check(self.config)
        reason = verdict.reason
        if not verdict.available and not reason.startswith("musicgen"):
            reason = f"musicgen: {reason}"
        return BackendStatus(self.name, verdict.available, reason)

    def loaded(self, *, melody: bool = False) -> Loaded:
        """The shared text (or melody) model, loaded on first use; BackendUnavailable when it cannot be."""
        c = self.config
        problem = availability.melody_problem(c) if melody else availability.model_problem(c)
        if problem is not None:
            if melody:
                problem = f"musicgen can't follow a melody here: {problem}"
            raise BackendUnavailable(problem if problem.startswith("musicgen") else f"musicgen: {problem}")
        name = c.melody_model if melody else c.model
        try:
            found = get_model(LoadConfig(name, c.revision, c.device, c.dtype))
        except (OSError, ValueError, ImportError, TypeError) as exc:
            log.warning("musicgen: loading %s failed: %s", name, exc, exc_info=True)
            raise BackendUnavailable(
                f"musicgen: the model {name} could not be loaded (the bot's log says why)"
            ) from exc
        if melody and not found.melody:
            raise BackendUnavailable(
                f"musicgen: MUSICGEN_MELODY_MODEL {name} is not a melody checkpoint; "
                f"use one like {availability.EXAMPLE_MELODY_HUB_ID}"
            )
        return found

    def warm(self) -> None:
        self.loaded()

    def batcher(self, *, melody: bool = False) -> Batcher[MusicgenJob, npt.NDArray[np.float32]]:
        with self._lock:
            found = self._batchers.get(melody)
            if found is None:
                loaded = self.loaded(melody=melody)
                found = self._batchers[melody] = Batcher(
                    lambda jobs, on_step: render(loaded, jobs, on_step),
                    MusicgenJob.batch_key,
                    max_batch=self.config.batch_size,
                    max_wait_s=self.config.batch_wait_ms / 1000.0,
                )
            return found

    # ---- entry points ------------------------------------------------------------------------------

    def generate(self, request: GenerationRequest, progress: ProgressFn) -> Generation:
        """Words alone: one window, or windows each continuing the last."""
        progress("reading the prompt", 0, 1)
        loaded = self.loaded()
        asked = self._asked(request)
        audio = self._continue(loaded, asked, request.seed, None, asked.duration_s, progress)
        return self._result(request, asked, audio, loaded, ["from your words"])

    def generate_from_audio(
        self, request: GenerationRequest, audio_bytes: bytes, fmt: str, progress: ProgressFn
    ) -> Generation:
        """The attachment's melody (its chroma) played as the prompt says, by the melody checkpoint."""
        progress("reading your melody", 0, 1)
        loaded = self.loaded(melody=True)
        clip = decode_audio(audio_bytes, fmt)
        if clip.duration < MIN_MELODY_S:
            raise UserError("That clip is under a second long; hum or play at least a few notes.")
        asked = self._asked(request, cap_s=self.config.window_s)
        chroma = melody_chroma(
            clip,
            sample_rate=loaded.sample_rate,
            n_fft=loaded.melody_n_fft,
            hop=loaded.melody_hop,
            frames=loaded.chroma_frames or 235,
        )
        job = self._job(loaded, asked.text, request.seed, asked.duration_s, melody=True, chroma=chroma)
        made = self._submit(job, progress, melody=True)
        lines = [f"melody from your clip ({clip.duration:.1f} s, {chroma.shape[0]} chroma frames)"]
        if clip.duration > self.config.window_s:
            lines.append(f"its first {self.config.window_s:.0f} s carried the tune")
        return self._result(request, asked, Audio(made, loaded.sample_rate), loaded, lines)

    def continue_audio(
        self, request: GenerationRequest, audio_bytes: bytes, fmt: str, progress: ProgressFn
    ) -> Generation:
        """Extend: `audio_bytes` (the piece) continued to `request.duration_s`, returned whole."""
        progress("reading the piece", 0, 1)
        loaded = self.loaded()
        piece = self._in_layout(decode_audio(audio_bytes, fmt), loaded)
        limit = min(self.config.max_seconds, float(request.max_duration_s))
        if piece.duration + MIN_SECONDS > limit:
            raise UserError(f"This piece is already at the {limit:.0f} s musicgen makes here.")
        asked = self._asked(request)
        total = min(limit, max(asked.duration_s, piece.duration + MIN_SECONDS))
        audio = self._continue(loaded, asked, request.seed, piece, total, progress)
        lines = [f"continued from {piece.duration:.1f} s to {audio.duration:.1f} s"]
        return self._result(request, asked, audio, loaded, lines)

    # ---- the steps ---------------------------------------------------------------------------------

    def _continue(
        self,
        loaded: Loaded,
        asked: _Asked,
        seed: int,
        start: Audio | None,
        total_s: float,
        progress: ProgressFn,
    ) -> Audio:
        """Windows until `total_s`: the first from the words alone (unless `start` is given), each next one
        continuing the last MUSICGEN_OVERLAP_S of what is there, its seam crossfaded."""
        c = self.config
        rate = loaded.sample_rate
        made = start.samples if start is not None else None
        window = 0
        windows = self._window_count(0.0 if start is None else start.duration, total_s)
        while made is None or made.shape[1] < int(round(total_s * rate)) - 1:
            have = 0.0 if made is None else made.shape[1] / rate
            hop = int(round(rate / loaded.frame_rate))  # samples per codec frame
            overlap = 0 if made is None else min(int(c.overlap_s * loaded.frame_rate), made.shape[1] // hop)
            seconds = min(c.window_s - overlap / loaded.frame_rate, total_s - have)
            context = None if made is None else np.ascontiguousarray(made[:, made.shape[1] - overlap * hop :])
            job = self._job(loaded, asked.text, seed + window, seconds, context=context)
            out = self._submit(job, _window_progress(progress, window, windows))
            made = out if made is None or context is None else _join(made, out, context.shape[1], rate)
            window += 1
        return Audio(np.ascontiguousarray(made[:, : int(round(total_s * rate))]), rate)

    def _window_count(self, have_s: float, total_s: float) -> int:
        c = self.config
        if have_s <= 0:
            first = min(c.window_s, total_s)
            return 1 + max(0, math.ceil((total_s - first) / (c.window_s - c.overlap_s) - 1e-9))
        return max(1, math.ceil((total_s - have_s) / (c.window_s - c.overlap_s) - 1e-9))

    def _job(
        self,
        loaded: Loaded,
        text: str,
        seed: int,
        seconds: float,
        *,
        melody: bool = False,
        context: npt.NDArray[np.float32] | None = None,
        chroma: npt.NDArray[np.float32] | None = None,
    ) -> MusicgenJob:
        c = self.config
        tokens = len(loaded.tokenizer(text).input_ids)
        bucket = min(MAX_TEXT_TOKENS, max(TEXT_BUCKET, math.ceil(tokens / TEXT_BUCKET) * TEXT_BUCKET))
        return MusicgenJob(
            prompt=text,
            seed=seed,
            frames=max(1, int(round(seconds * loaded.frame_rate))),
            melody=melody,
            context=context,
            chroma=chroma,
            guidance=c.guidance,
            temperature=c.temperature,
            top_k=c.top_k,
            text_tokens=bucket,
        )

    def _submit(
        self, job: MusicgenJob, progress: ProgressFn, *, melody: bool = False
    ) -> npt.NDArray[np.float32]:
        return self.batcher(melody=melody).submit(job, lambda k, n: progress("generating", k, n))

    def _asked(self, request: GenerationRequest, *, cap_s: float | None = None) -> _Asked:
        spec = interpret(
            request.prompt,
            bpm=request.bpm,
            key=request.key,
            duration_s=request.duration_s,
            default_duration_s=request.default_duration_s,
            embedder=None,
        )
        explicit = spec.explicit
        limit = min(float(request.max_duration_s), self.config.max_seconds, cap_s or math.inf)
        duration = float(spec.duration_s)
        notes: list[str] = []
        if duration > limit:
            what = "from a melody" if cap_s is not None else "here"
            notes.append(f"Asked for {duration:.0f} s; musicgen {what} makes at most {limit:.0f} s.")
            duration = limit
        duration = max(MIN_SECONDS, duration)
        tempo = float(spec.tempo_bpm) if request.bpm is not None or "tempo" in explicit else None
        key = spec.key.name() if request.key is not None or "key" in explicit else None
        text = " ".join(request.prompt.split()) or "music"
        # MusicGen reads only words: a tempo or key given as an option is written into them
        if request.bpm is not None and f"{tempo:g} bpm" not in text.lower():
            text += f", {tempo:g} bpm"
        if request.key is not None and key is not None and key.lower() not in text.lower():
            text += f", in {key}"
        return _Asked(text, duration, tempo, key, tuple(notes))

    def _in_layout(self, audio: Audio, loaded: Loaded) -> Audio:
        """`audio` at the model's rate and channel count."""
        audio = resample(audio, loaded.sample_rate)
        if loaded.channels == 1:
            return Audio.from_array(audio.to_mono(), loaded.sample_rate)
        return audio.to_stereo()

    def _result(
        self, request: GenerationRequest, asked: _Asked, audio: Audio, loaded: Loaded, lines: list[str]
    ) -> Generation:
        c = self.config
        model = c.melody_model if loaded.melody else c.model
        stated = ", ".join(
            [
                f"tempo {asked.tempo_bpm:g} bpm" if asked.tempo_bpm else "tempo: its own",
                f"key {asked.key}" if asked.key else "key: its own",
                f"{asked.duration_s:.0f} s",
            ]
        )
        summary = [
            *lines,
            f"asked the model (in words) for: {stated}",
            f"model: {model}, guidance {c.guidance:g}, top-k {c.top_k} ({availability.LICENCE_NOTE})",
        ]
        return Generation(
            audio=audio,
            title=_title(request.prompt),
            duration_s=audio.duration,
            summary=summary,
            tempo_bpm=asked.tempo_bpm,
            key=asked.key,
            tags=("musicgen",),
            notes=list(asked.notes),
        )


def _join(
    before: npt.NDArray[np.float32], out: npt.NDArray[np.float32], context: int, rate: int
) -> npt.NDArray[np.float32]:
    """`before`, continued by `out` (the codec's rendering of `before`'s last `context` samples, then the
    new audio): over the last SEAM_S of the context, the original crossfades into the rendering (both are
    the same moment), so the seam is neither a jump nor a shift in time."""
    width = min(int(SEAM_S * rate), context)
    rise = fade_curve(width, "equal_power").astype(np.float32)
    seam = before[:, before.shape[1] - width :] * rise[::-1] + out[:, context - width : context] * rise
    joined = [before[:, : before.shape[1] - width], seam, out[:, context:]]
    return np.ascontiguousarray(np.concatenate(joined, axis=1), dtype=np.float32)


def _window_progress(progress: ProgressFn, window: int, windows: int) -> ProgressFn:
    if windows <= 1:
        return progress

    def report(stage: str, step: int, total: int) -> None:
        progress(f"{stage}, window {window + 1} of {windows}", step, total)

    return report


def _title(prompt: str) -> str:
    words = prompt.strip().split()
    title = " ".join(words[:8]) + ("…" if len(words) > 8 else "")
    return title[:1].upper() + title[1:] if title else "Untitled"
