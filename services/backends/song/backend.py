"""The song backend: a prompt, lyrics and the stated tempo, key and metre → a sung song (ACE-Step 1.5).

Read top-down: check the model is there (without loading it); read tempo, key, metre and length from the
options and the prompt (options win) and hand what was *stated* to the model's own conditioning; build one
SongJob per pipeline item; run them through the shared batcher, which groups compatible jobs from every
worker thread into one call; turn what came back into a Generation that says what was asked.

Tasks on audio (the user's upload, or one of our songs) work the same way with a source:
- cover: the source re-performed in the prompt's style (ACE-Step's cover, `cover_strength` of its shape kept);
- repaint: a time range sung again with new words; outside the range the original is kept, crossfaded;
- extend: the song continued: silence appended and "repainted", the original kept before the seam;
- stems: vocals, drums, bass and other, each extracted (other = guitar + keys + strings + synth).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from services.audio.edit import resample
from services.audio.types import Audio
from services.backends.base import (
    STEMS,
    BackendStatus,
    BackendUnavailable,
    Generation,
    GenerationRequest,
    ProgressFn,
    SongRequest,
)
from services.backends.batching import Batcher, StepFn
from services.backends.song import availability
from services.backends.song.config import SongConfig
from services.backends.song.pipeline import LoadConfig, get_pipeline
from services.errors import UserError
from services.prompting.interpreter import interpret
from services.score.theory import Key
from services.songs.lyrics import INSTRUMENTAL, LANGUAGES, is_instrumental, metre_name
from services.songs.ranges import check_range, clock

log = logging.getLogger(__name__)

MIN_SECONDS = 10.0  # ACE-Step makes 10 s to 10 min
SPLICE_S = 0.25  # crossfade where a repainted or continued part meets the original
STEM_TRACKS: dict[str, tuple[str, ...]] = {  # ACE-Step's track names behind each stem we offer
    "vocals": ("vocals",),
    "drums": ("drums",),
    "bass": ("bass",),
    "other": ("guitar", "keyboard", "strings", "synth"),
}
TaskType = str  # ACE-Step's task_type: text2music, cover, repaint, extract


@dataclass(frozen=True, eq=False)
class SongJob:
    """One pipeline item; items with equal `batch_key` share a call and each comes out as it would alone."""

    prompt: str
    lyrics: str
    language: str
    seed: int
    duration_s: float
    task: TaskType = "text2music"
    instruction: str | None = None  # ACE-Step's task instruction; None: the task's default
    bpm: int | None = None
    keyscale: str | None = None
    timesignature: str | None = None
    source: npt.NDArray[np.float32] | None = None  # (channels, frames) at the pipeline's sample rate
    cover_strength: float = 1.0
    repaint: tuple[float, float] | None = None
    steps: int = 8
    guidance: float = 7.0
    shift: float = 3.0
    buckets: tuple[int, int] = (0, 0)  # padded token lengths of prompt and lyrics (SongPipeline.buckets)

    def batch_key(self) -> Hashable:
        frames = None if self.source is None else self.source.shape
        return (
            self.task,
            round(self.duration_s * 1000),
            self.steps,
            self.guidance,
            self.shift,
            self.cover_strength,
            self.repaint,
            self.buckets,
            frames,
        )


def render(
    pipe: Any, jobs: Sequence[SongJob], on_step: StepFn | None = None
) -> list[npt.NDArray[np.float32]]:
    """One pipeline call for `jobs` (equal batch keys): (channels, frames) float32 audio per job."""
    import torch

    first = jobs[0]
    generators = [torch.Generator(device="cpu").manual_seed(job.seed) for job in jobs]
    kwargs: dict[str, Any] = {}
    if first.source is not None:
        stacked = np.stack([job.source for job in jobs if job.source is not None])
        kwargs["src_audio"] = torch.from_numpy(stacked)
    if first.repaint is not None:
        kwargs["repainting_start"], kwargs["repainting_end"] = first.repaint
    default = pipe._get_task_instruction(first.task)

    def step_end(pipeline: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        if on_step is not None:
            on_step(step + 1, first.steps)
        return tensors

    with torch.inference_mode():
        out = pipe(
            prompt=[job.prompt for job in jobs],
            lyrics=[job.lyrics for job in jobs],
            vocal_language=[job.language for job in jobs],
            instruction=[job.instruction or default for job in jobs],
            bpm=[job.bpm for job in jobs],
            keyscale=[job.keyscale for job in jobs],
            timesignature=[job.timesignature for job in jobs],
            audio_duration=first.duration_s,
            num_inference_steps=first.steps,
            guidance_scale=first.guidance,
            shift=first.shift,
            generator=generators,
            task_type=first.task,
            audio_cover_strength=first.cover_strength,
            callback_on_step_end=step_end,
            output_type="pt",
            **kwargs,
        )
    audio = out.audios.float().cpu().numpy()
    return [np.ascontiguousarray(a, dtype=np.float32) for a in audio]


@dataclass(frozen=True)
class _Asked:
    """What the options and the prompt stated, in ACE-Step's terms, for conditioning and the summary."""

    bpm: int | None
    keyscale: str | None
    beats: int | None
    duration_s: float
    lines: list[str] = field(default_factory=list)


@dataclass
class SongGeneration(Generation):
    """A Generation plus what a song keeps: the task it did and where a continuation would start."""

    task: str = "sing"


class SongBackend:
    """ACE-Step 1.5 on diffusers: songs, covers, repaints, continuations and stems, batched across jobs."""

    name: ClassVar[str] = "song"

    def __init__(self, config: SongConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._batcher: Batcher[SongJob, npt.NDArray[np.float32]] | None = None

    # ---- availability ------------------------------------------------------------------------------

    def available(self) -> BackendStatus:
        """The registry's own check (song/availability.py); the reason is named, as it also becomes the
        BackendUnavailable a job fails with."""
        verdict = availability.check(self.config)
        reason = verdict.reason
        if not verdict.available and not reason.startswith("song"):
            reason = f"song: {reason}"
        return BackendStatus(self.name, verdict.available, reason)

    def pipeline(self) -> Any:
        """The shared model, loaded on first use; BackendUnavailable with the reason when it cannot be."""
        status = self.available()
        if not status.available:
            raise BackendUnavailable(status.reason)
        c = self.config
        try:
            return get_pipeline(LoadConfig(c.model, c.revision, c.device, c.dtype, c.offload))
        except (OSError, ValueError, ImportError, TypeError) as exc:
            log.warning("song: loading %s failed: %s", c.model, exc, exc_info=True)
            raise BackendUnavailable(
                f"song: the model {c.model} could not be loaded (the bot's log says why)"
            ) from exc

    def warm(self) -> None:
        self.pipeline()

    def batcher(self) -> Batcher[SongJob, npt.NDArray[np.float32]]:
        with self._lock:
            if self._batcher is None:
                pipe = self.pipeline()
                self._batcher = Batcher(
                    lambda jobs, on_step: render(pipe, jobs, on_step),
                    SongJob.batch_key,
                    max_batch=self.config.batch_size,
                    max_wait_s=self.config.batch_wait_ms / 1000.0,
                )
            return self._batcher

    # ---- entry points ------------------------------------------------------------------------------

    def generate(self, request: GenerationRequest, progress: ProgressFn) -> SongGeneration:
        """Words alone (a jam segment, `/music create backend:song`): an instrumental song."""
        return self.sing(request, SongRequest(lyrics=""), None, progress)

    def generate_takes(
        self, request: GenerationRequest, seeds: list[int], progress: ProgressFn
    ) -> list[SongGeneration]:
        """Instrumental takes of `request` on `seeds`, in one batched pipeline call."""
        return self.sing_takes(request, SongRequest(lyrics=""), seeds, progress)

    def sing_takes(
        self, request: GenerationRequest, song: SongRequest, seeds: list[int], progress: ProgressFn
    ) -> list[SongGeneration]:
        """Takes of one song (words and all) on `seeds`, sung in one batched pipeline call: each equals
        the song sung alone on its seed (SongPipeline keeps batch items independent)."""
        from dataclasses import replace

        if song.task != "sing":
            raise ValueError(f"takes are of sung songs, not of a {song.task}")
        pipe = self.pipeline()
        asked = self._asked(request, song, None)
        takes = [replace(request, seed=seed) for seed in seeds]
        audios = self._run(pipe, [self._job(pipe, take, song, asked) for take in takes], progress)
        lines = self._sung_lines(song)
        return [
            self._result(take, song, asked, audio, list(lines))
            for take, audio in zip(takes, audios, strict=True)
        ]

    def sing(
        self, request: GenerationRequest, song: SongRequest, source: Audio | None, progress: ProgressFn
    ) -> SongGeneration:
        """One song job: `song.task` says what to do; `source` is the audio the task works on."""
        progress("reading the prompt", 0, 1)
        pipe = self.pipeline()  # fail fast, before any work, when the model cannot load
        if song.task == "sing":
            return self._sing(pipe, request, song, progress)
        if source is None:
            raise UserError("This song task needs audio to work on, and none came with it.")
        limit = self._limit(request)
        src = self._source(pipe, source, limit, keep_end=song.task == "extend")
        tasks = {"cover": self._cover, "repaint": self._repaint, "extend": self._extend, "stems": self._stems}
        if song.task not in tasks:
            raise ValueError(f"unknown song task {song.task!r}")
        result = tasks[song.task](pipe, request, song, src, progress)
        if source.duration > limit + 0.05 and song.task != "extend":  # extend says how it kept its context
            result.notes.insert(
                0,
                f"Your audio is {clock(source.duration)} long; songs here are at most {limit:.0f} s, so its "
                f"first {limit:.0f} s were used.",
            )
        return result

    # ---- the tasks ---------------------------------------------------------------------------------

    def _sing(
        self, pipe: Any, request: GenerationRequest, song: SongRequest, progress: ProgressFn
    ) -> SongGeneration:
        asked = self._asked(request, song, None)
        job = self._job(pipe, request, song, asked)
        audio = self._run(pipe, [job], progress)[0]
        return self._result(request, song, asked, audio, self._sung_lines(song))

    @staticmethod
    def _sung_lines(song: SongRequest) -> list[str]:
        language = LANGUAGES.get(song.language, song.language)
        lines = [f"lyrics: {'instrumental' if is_instrumental(song.lyrics) else f'sung in {language}'}"]
        if song.lyrics_written_by:
            lines.append(f"lyrics written by {song.lyrics_written_by}")
        return lines

    def _cover(
        self, pipe: Any, request: GenerationRequest, song: SongRequest, src: Audio, progress: ProgressFn
    ) -> SongGeneration:
        strength = self.config.cover_strength if song.cover_strength is None else song.cover_strength
        asked = self._asked(request, song, src.duration)
        src = _fit_source(src, asked.duration_s)
        job = self._job(
            pipe,
            request,
            song,
            asked,
            task="cover",
            source=src,
            cover_strength=strength,
        )
        audio = self._run(pipe, [job], progress)[0]
        lines = [f"cover of your audio, {strength:.0%} of its shape kept"]
        return self._result(request, song, asked, audio, lines)

    def _repaint(
        self, pipe: Any, request: GenerationRequest, song: SongRequest, src: Audio, progress: ProgressFn
    ) -> SongGeneration:
        length = src.duration
        start, end = check_range(song.repaint_start_s, song.repaint_end_s, length)
        asked = self._asked(request, song, length, duration_s=length)
        audio = self._sing_again(pipe, request, song, asked, src, (start, end), progress)
        lines = [f"repainted {clock(start)}–{clock(end)}; the rest is the original"]
        return self._result(request, song, asked, audio, lines)

    def _sing_again(
        self,
        pipe: Any,
        request: GenerationRequest,
        song: SongRequest,
        asked: _Asked,
        src: Audio,
        span: tuple[float, float],
        progress: ProgressFn,
    ) -> Audio:
        """`src` with `span` sung again by ACE-Step's repaint; outside it the original, crossfaded."""
        job = self._job(pipe, request, song, asked, task="repaint", source=src, repaint=span)
        made = self._run(pipe, [job], progress)[0]
        return splice(src, made, *span)

    def _extend(
        self, pipe: Any, request: GenerationRequest, song: SongRequest, src: Audio, progress: ProgressFn
    ) -> SongGeneration:
        limit = self._limit(request)
        more = song.extend_s or max(MIN_SECONDS, min(30.0, src.duration))
        more = min(more, limit - MIN_SECONDS) if limit > MIN_SECONDS else more
        context_s = min(src.duration, limit - more)
        notes = []
        if context_s < src.duration - 0.05:
            notes.append(
                f"The song plus {more:.0f} s would pass the {limit:.0f} s limit, so the continuation follows "
                f"its last {context_s:.0f} s."
            )
        sr = src.sample_rate
        context = src.samples[:, src.frames - int(round(context_s * sr)) :]
        silence = np.zeros((src.channels, int(round(more * sr))), np.float32)
        padded = Audio(np.ascontiguousarray(np.concatenate([context, silence], axis=1)), sr)
        total = padded.duration
        asked = self._asked(request, song, total, duration_s=total)
        audio = self._sing_again(pipe, request, song, asked, padded, (context_s, total), progress)
        lines = [f"continued for {more:.0f} s after {clock(context_s)} of the song"]
        result = self._result(request, song, asked, audio, lines)
        result.notes.extend(notes)
        return result

    def _stems(
        self, pipe: Any, request: GenerationRequest, song: SongRequest, src: Audio, progress: ProgressFn
    ) -> SongGeneration:
        length = src.duration
        asked = self._asked(request, song, length, duration_s=length)
        jobs: list[SongJob] = []
        owners: list[str] = []
        for stem in STEMS:
            for track in STEM_TRACKS[stem]:
                instruction = pipe._get_task_instruction("extract", track_name=track)
                jobs.append(
                    self._job(
                        pipe,
                        request,
                        song,
                        asked,
                        words=INSTRUMENTAL,
                        task="extract",
                        source=src,
                        instruction=instruction,
                    )
                )
                owners.append(stem)
        outputs = self._run(pipe, jobs, progress)
        parts: dict[str, npt.NDArray[np.float32]] = {}
        for stem, out in zip(owners, outputs, strict=True):
            parts[stem] = parts[stem] + out.samples if stem in parts else out.samples
        stems = {name: _fit_frames(Audio(parts[name], pipe.sample_rate), src) for name in STEMS}
        lines = [
            "stems: "
            + ", ".join(STEMS)
            + " (other = guitar, keys, strings and synth), each extracted by the model",
        ]
        result = self._result(request, song, asked, src, lines, show_lyrics=False)
        result.stems = stems
        result.title = f"Stems of {result.title}"
        return result

    # ---- helpers -----------------------------------------------------------------------------------

    def _limit(self, request: GenerationRequest) -> float:
        return min(float(request.max_duration_s), self.config.max_seconds)

    def _asked(
        self,
        request: GenerationRequest,
        song: SongRequest,
        source_s: float | None,
        *,
        duration_s: float | None = None,
    ) -> _Asked:
        """Tempo, key, metre and length the options or the prompt *stated* (options win), clamped."""
        try:
            spec = interpret(
                request.prompt,
                bpm=request.bpm,
                key=request.key,
                duration_s=request.duration_s,
                default_duration_s=request.default_duration_s,
                embedder=None,
            )
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        explicit = spec.explicit
        bpm = int(round(spec.tempo_bpm)) if request.bpm is not None or "tempo" in explicit else None
        keyscale = None
        if request.key is not None or "key" in explicit:
            keyscale = _ace_key(spec.key)
        beats = song.beats_per_bar
        if beats is None and "metre" in explicit and spec.time_signature[0] in (2, 3, 4, 6):
            beats = spec.time_signature[0]
        limit = self._limit(request)
        lines: list[str] = []
        fixed = duration_s is not None  # the source's own length (repaint, stems, extend): sung as it is
        if duration_s is None:
            stated = request.duration_s is not None or "duration" in explicit
            duration_s = spec.duration_s if stated or source_s is None else source_s
        if duration_s > limit:
            lines.append(f"Asked for {duration_s:.0f} s; songs here are at most {limit:.0f} s.")
            duration_s = limit
        if duration_s < MIN_SECONDS and not fixed:
            lines.append(f"Asked for {duration_s:.0f} s; ACE-Step sings at least {MIN_SECONDS:.0f} s.")
            duration_s = MIN_SECONDS
        return _Asked(bpm, keyscale, beats, float(duration_s), lines)

    def _job(
        self,
        pipe: Any,
        request: GenerationRequest,
        song: SongRequest,
        asked: _Asked,
        *,
        words: str | None = None,
        task: TaskType = "text2music",
        source: Audio | None = None,
        instruction: str | None = None,
        cover_strength: float = 1.0,
        repaint: tuple[float, float] | None = None,
    ) -> SongJob:
        """One pipeline item; `words` defaults to the song's lyrics ("[Instrumental]" when it has none)."""
        c = self.config
        lyrics = words or (INSTRUMENTAL if is_instrumental(song.lyrics) else str(song.lyrics))
        timesignature = str(asked.beats) if asked.beats else None
        formatted = pipe.format_item(
            request.prompt,
            lyrics,
            song.language,
            asked.duration_s,
            instruction or pipe._get_task_instruction(task),
            asked.bpm,
            asked.keyscale,
            timesignature,
        )
        return SongJob(
            prompt=request.prompt,
            lyrics=lyrics,
            language=song.language,
            seed=request.seed,
            duration_s=asked.duration_s if source is None else source.duration,
            task=task,
            instruction=instruction,
            bpm=asked.bpm,
            keyscale=asked.keyscale,
            timesignature=timesignature,
            source=None if source is None else source.samples,
            cover_strength=cover_strength,
            repaint=repaint,
            steps=c.steps,
            guidance=c.guidance,
            shift=c.shift,
            buckets=pipe.buckets([formatted[0]], [formatted[1]]),
        )

    def _run(self, pipe: Any, jobs: list[SongJob], progress: ProgressFn) -> list[Audio]:
        outputs = self.batcher().submit_many(jobs, lambda k, n: progress("denoising", k, n))
        return [Audio(out, pipe.sample_rate) for out in outputs]

    def _source(self, pipe: Any, source: Audio, limit_s: float, *, keep_end: bool = False) -> Audio:
        """The task's audio in the model's layout: stereo at its sample rate, at most `limit_s` long (a
        longer upload is worked on from its start — or, to continue it, its end — and the reply says so)."""
        audio = resample(source.to_stereo(), int(pipe.sample_rate))
        if audio.duration < 1.0:
            raise UserError("That audio is under a second long; the song backend needs at least one second.")
        cap = int(limit_s * audio.sample_rate)
        if audio.frames > cap:
            part = audio.samples[:, audio.frames - cap :] if keep_end else audio.samples[:, :cap]
            audio = Audio(np.ascontiguousarray(part), audio.sample_rate)
        return audio

    def _result(
        self,
        request: GenerationRequest,
        song: SongRequest,
        asked: _Asked,
        audio: Audio,
        lines: list[str],
        *,
        show_lyrics: bool = True,
    ) -> SongGeneration:
        """What a song task made, and what was asked of the model (only stated values were)."""
        c = self.config
        lyrics = None if is_instrumental(song.lyrics) or not show_lyrics else song.lyrics
        summary = list(lines)
        summary.append(
            "asked the model for: "
            + ", ".join(
                [
                    f"tempo {asked.bpm} bpm" if asked.bpm else "tempo: its own",
                    f"key {asked.keyscale}" if asked.keyscale else "key: its own",
                    f"metre {metre_name(asked.beats)}" if asked.beats else "metre: its own",
                    f"{asked.duration_s:.0f} s",
                ]
            )
        )
        summary.append(f"model: {c.model}, {c.steps} steps, shift {c.shift:g}")
        return SongGeneration(
            audio=audio,
            title=_title(request.prompt),
            duration_s=audio.duration,
            summary=summary,
            tempo_bpm=float(asked.bpm) if asked.bpm else None,
            key=asked.keyscale,
            time_signature=metre_name(asked.beats) if asked.beats else None,
            tags=("song", song.task),
            notes=[line for line in asked.lines],
            lyrics=lyrics,
            task=song.task,
        )


def splice(original: Audio, made: Audio, start: float, end: float) -> Audio:
    """`made` between start and end, `original` outside, with SPLICE_S crossfades centred on both seams."""
    sr = original.sample_rate
    frames = original.frames
    new = _fit_frames(made, original).samples
    a, b = int(round(start * sr)), int(round(end * sr))
    half = int(SPLICE_S * sr) // 2
    weight = np.zeros(frames, dtype=np.float32)
    weight[a:b] = 1.0
    for seam, rising in ((a, True), (b, False)):
        if seam <= 0 or seam >= frames or half == 0:
            continue  # a seam at either end of the song needs no crossfade
        lo, hi = max(0, seam - half), min(frames, seam + half)
        ramp = np.linspace(0.0, 1.0, hi - lo, dtype=np.float32)
        weight[lo:hi] = ramp if rising else ramp[::-1]
    mixed = original.samples * (1.0 - weight) + new * weight
    return Audio(np.ascontiguousarray(mixed, dtype=np.float32), sr)


def _fit_frames(audio: Audio, like: Audio) -> Audio:
    """`audio` at `like`'s rate, channels and exact frame count (the VAE rounds lengths to its stride)."""
    audio = resample(audio, like.sample_rate)
    samples = audio.samples if audio.channels == like.channels else audio.to_stereo().samples
    if samples.shape[1] >= like.frames:
        samples = samples[:, : like.frames]
    else:
        samples = np.pad(samples, ((0, 0), (0, like.frames - samples.shape[1])))
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), like.sample_rate)


def _fit_source(src: Audio, seconds: float) -> Audio:
    frames = int(round(seconds * src.sample_rate))
    if src.frames >= frames:
        return Audio(np.ascontiguousarray(src.samples[:, :frames]), src.sample_rate)
    reps = int(np.ceil(frames / src.frames))
    return Audio(np.ascontiguousarray(np.tile(src.samples, (1, reps))[:, :frames]), src.sample_rate)


def _ace_key(key: Key) -> str:
    """ACE-Step's keyscale: 'C major' / 'A minor' (modes are read as their major or minor colour)."""
    tonic = key.name().split()[0]
    return f"{tonic} {'minor' if key.is_minor else 'major'}"


def _title(prompt: str) -> str:
    words = prompt.strip().split()
    title = " ".join(words[:8]) + ("…" if len(words) > 8 else "")
    return title[:1].upper() + title[1:] if title else "Untitled song"
