"""The riffusion backend: words (and a beat or the user's audio) → spectrogram windows → music.

Read top-down: check the model is there (without loading it), read tempo and feel from the prompt with
the styles interpreter, pick a seed spectrogram (a beat at that tempo by default, the "any beat" fix; or
the user's audio), lay out 5.11 s windows on the beat grid, draw them all in as few batched pipeline calls
as possible by walking riffusion's interpolation from seed to seed, decode them with the codec and join
them with crossfades. Longer pieces morph gradually instead of repeating one window.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image

from services.audio.edit import concat_crossfade, fit_length
from services.audio.types import Audio
from services.backends.base import (
    BackendStatus,
    BackendUnavailable,
    Generation,
    GenerationRequest,
    ProgressFn,
    no_progress,
)
from services.backends.batching import Batcher, Gathering
from services.backends.riffusion import availability
from services.backends.riffusion.codec import SpectrogramCodec
from services.backends.riffusion.config import RiffusionConfig
from services.backends.riffusion.image_util import png_bytes
from services.backends.riffusion.interpolate import (
    AUDIO_DENOISING,
    DEFAULT_DENOISING,
    DEFAULT_GUIDANCE,
    Endpoint,
    SpectrogramJob,
    render,
)
from services.backends.riffusion.pipeline import (
    DEFAULT_SCHEDULER,
    DEFAULT_STEPS,
    PipelineConfig,
    SpectrogramPipeline,
    get_pipeline,
    to_pil,
)
from services.backends.riffusion.seeds import (
    WINDOW_WIDTH,
    audio_seed,
    beat_seed,
    drum_style_for_genres,
    texture_seed,
    window_seconds,
)
from services.prompting.interpreter import interpret
from services.settings import Settings

log = logging.getLogger(__name__)

MIN_OVERLAP_S = 0.4  # shortest crossfade between windows; the stride is then snapped to the beat grid


@dataclass(frozen=True)
class RiffusionOptions:
    """How the backend draws; defaults follow riffusion's reference where it has one."""

    model: str = "riffusion/riffusion-model-v1"  # hub id or local folder (RIFFUSION_MODEL)
    revision: str | None = None  # hub revision (RIFFUSION_REVISION)
    device: str = "auto"  # DEVICE: auto, cpu, cuda, mps
    scheduler: str = DEFAULT_SCHEDULER  # RIFFUSION_SCHEDULER: dpm++, ddim, euler, euler-a, pndm, lms
    steps: int = DEFAULT_STEPS  # RIFFUSION_STEPS: full-schedule steps (img2img runs strength × steps)
    guidance: float = DEFAULT_GUIDANCE  # RIFFUSION_GUIDANCE
    denoising: float = DEFAULT_DENOISING  # RIFFUSION_DENOISING: strength from a beat or texture seed
    audio_denoising: float = AUDIO_DENOISING  # RIFFUSION_AUDIO_DENOISING: strength from the user's audio
    batch_size: int = 4  # RIFFUSION_BATCH_SIZE: most images in one pipeline call
    batch_wait_ms: float = 50.0  # RIFFUSION_BATCH_WAIT_MS: how long a batch waits for company
    max_seconds: float = 60.0  # RIFFUSION_MAX_SECONDS: longest piece (on top of MAX_DURATION_S)
    image_size: int = 512  # RIFFUSION_IMAGE_SIZE: drawn image side in pixels (tests use 64)
    alpha_steps: int = 4  # windows per hop from one seed to the next (0.25 alpha apart)
    hf_cache_dir: Path | None = None  # Hugging Face hub cache to look in; None: the default one


@dataclass
class RiffusionGeneration(Generation):
    """A Generation plus the pictures and the walk position riffusion can offer."""

    preview_png: bytes | None = None  # the first window's spectrogram, for the result embed
    seed_png: bytes | None = None  # the seed spectrogram the windows were drawn from
    last_endpoint: Endpoint | None = None  # where the walk ended: pass to `extend` to continue from here
    windows: int = 0  # 5.11 s windows drawn
    extras: dict[str, Any] = field(default_factory=dict)  # anything else worth keeping (seed kind, bpm)


@dataclass(frozen=True)
class _Layout:
    """How windows tile the piece."""

    count: int  # windows to draw
    stride_s: float  # seconds from one window's start to the next (a whole number of beats or bars)
    overlap_s: float  # crossfade between neighbours


def window_layout(duration_s: float, bpm: float | None, beats_per_bar: float, window_s: float) -> _Layout:
    """Windows for `duration_s`, their starts on the beat grid (whole bars when that wastes little)."""
    longest = window_s - MIN_OVERLAP_S
    stride = longest
    if bpm is not None:
        beat = 60.0 / bpm
        bar = beat * beats_per_bar
        by_bars = math.floor(longest / bar) * bar
        by_beats = math.floor(longest / beat) * beat
        stride = by_bars if by_bars >= 0.75 * longest else by_beats
        if stride < window_s / 2:
            stride = longest
    count = 1 if duration_s <= window_s else 1 + math.ceil((duration_s - window_s) / stride - 1e-9)
    return _Layout(count, stride, window_s - stride)


class RiffusionBackend:
    """Riffusion on diffusers: text, a beat at any tempo or the user's audio → music, batched across jobs."""

    name: ClassVar[str] = "riffusion"

    def __init__(
        self,
        options: RiffusionOptions | None = None,
        *,
        codec: SpectrogramCodec | None = None,
        soundfont: Path | None = None,
    ) -> None:
        self.options = options or RiffusionOptions()
        self.codec = codec or SpectrogramCodec()
        self.soundfont = soundfont
        self._lock = threading.Lock()
        self._batcher: Batcher[SpectrogramJob, Any] | None = None

    @classmethod
    def from_config(cls, config: RiffusionConfig) -> RiffusionBackend:
        options = RiffusionOptions(
            model=config.model,
            revision=config.revision,
            device=config.device,
            scheduler=config.scheduler,
            steps=config.steps,
            guidance=config.guidance,
            denoising=config.denoising,
            audio_denoising=config.audio_denoising,
            batch_size=config.batch_size,
            batch_wait_ms=config.batch_wait_ms,
            max_seconds=config.max_seconds,
        )
        return cls(options, soundfont=config.soundfont)

    @classmethod
    def from_settings(cls, settings: Settings) -> RiffusionBackend:
        return cls.from_config(RiffusionConfig.from_settings(settings))

    # ---- availability ------------------------------------------------------------------------------

    def available(self) -> BackendStatus:
        """The same check the registry runs for `/music backends` (riffusion/availability.py); never loads
        the model. The reason is named, as it also becomes the BackendUnavailable a job fails with."""
        o = self.options
        verdict = availability.status(o.model, o.revision, o.hf_cache_dir)
        reason = verdict.reason
        if not verdict.available and not reason.startswith("riffusion"):
            reason = f"riffusion: {reason}"
        return BackendStatus(self.name, verdict.available, reason)

    def pipeline(self) -> SpectrogramPipeline:
        """The shared model, loaded on first use; BackendUnavailable with the reason when it cannot be."""
        status = self.available()
        if not status.available:
            raise BackendUnavailable(status.reason)
        o = self.options
        config = PipelineConfig(o.model, o.revision, o.device, o.scheduler)
        try:
            return get_pipeline(config)
        except (OSError, ValueError, ImportError) as exc:
            # The loader's own text (paths, library internals) goes to the log, not to the channel.
            log.warning("riffusion: loading %s failed: %s", o.model, exc, exc_info=True)
            raise BackendUnavailable(
                f"riffusion: the model {o.model} could not be loaded (the bot's log says why)"
            ) from exc

    def batcher(self) -> Batcher[SpectrogramJob, Any]:
        """The one batcher of this backend (per process), created with the model."""
        with self._lock:
            if self._batcher is None:
                pipe = self.pipeline()
                self._batcher = Batcher(
                    lambda jobs, on_step: list(render(pipe, jobs, on_step)),
                    SpectrogramJob.batch_key,
                    max_batch=self.options.batch_size,
                    max_wait_s=self.options.batch_wait_ms / 1000.0,
                )
            return self._batcher

    # ---- entry points ------------------------------------------------------------------------------

    def generate(self, request: GenerationRequest, progress: ProgressFn) -> RiffusionGeneration:
        """Text → music, img2img from a beat at the prompt's (or option's) tempo; with `continue_from`
        (the Extend button), new music that walks on from where the previous piece ended."""
        if request.continue_from is not None:
            prompt, seed = request.continue_from
            o = self.options
            return self.extend(request, Endpoint(prompt, seed, o.guidance, o.denoising), progress)
        return self._make(request, progress, audio=None, previous=None)

    def generate_from_audio(
        self,
        request: GenerationRequest,
        audio_bytes: bytes,
        fmt: str,
        progress: ProgressFn,
        *,
        start_s: float = 0.0,
    ) -> RiffusionGeneration:
        """Audio-to-audio: the user's file (mp3/wav/ogg/flac) is the seed, restyled by the prompt."""
        return self._make(request, progress, audio=(audio_bytes, fmt, start_s), previous=None)

    def generate_from_image(
        self, request: GenerationRequest, picture: Image.Image, progress: ProgressFn
    ) -> RiffusionGeneration:
        """img2img from a user's picture: read as a spectrogram, it is the seed the prompt restyles."""
        from services.images.sonify import spectrogram_image

        seed = spectrogram_image(picture, params=self.codec.params, columns=WINDOW_WIDTH)
        return self._make(request, progress, audio=None, previous=None, init=(seed, "your picture"))

    def transition(
        self,
        before: tuple[str, int],
        after: tuple[str, int],
        *,
        bpm: float,
        time_signature: tuple[int, int] = (4, 4),
        alpha: float = 0.5,
    ) -> Audio:
        """One window between two (prompt, seed) points by riffusion's interpolation: prompt embeddings
        lerped, noises slerped, img2img from a beat at `bpm`. Jams lay it over the seam between segments."""
        o = self.options
        style = drum_style_for_genres((), time_signature)
        seed_image = beat_seed(
            bpm, style, time_signature=time_signature, soundfont=self.soundfont, codec=self.codec
        )
        job = SpectrogramJob(
            Endpoint(before[0], before[1], o.guidance, o.denoising),
            Endpoint(after[0], after[1], o.guidance, o.denoising),
            alpha,
            seed_image,
            o.steps,
            o.image_size,
            o.image_size,
        )
        pixels = self.batcher().submit_many([job], lambda k, n: None)
        image = to_pil(pixels[0])
        frame = (WINDOW_WIDTH, self.codec.params.num_frequencies)
        if image.size != frame:
            image = image.resize(frame, Image.Resampling.BICUBIC)
        return self.codec.image_to_audio(image)

    def extend(
        self, request: GenerationRequest, previous: Endpoint, progress: ProgressFn
    ) -> RiffusionGeneration:
        """More music that starts where `previous` (a result's last_endpoint) left off and walks toward
        the request's prompt and seed."""
        return self._make(request, progress, audio=None, previous=previous)

    # ---- the work ----------------------------------------------------------------------------------

    def generate_takes(
        self, request: GenerationRequest, seeds: list[int], progress: ProgressFn
    ) -> list[RiffusionGeneration]:
        """Takes of `request` on `seeds`, drawn in one batched pipeline call; only the first reports."""
        from concurrent.futures import ThreadPoolExecutor
        from dataclasses import replace

        gathering: Gathering[SpectrogramJob, Any] = Gathering(self.batcher(), len(seeds))

        def take(index: int) -> RiffusionGeneration:
            one = replace(request, seed=seeds[index], continue_from=None)
            report = progress if index == 0 else no_progress
            return self._make(one, report, audio=None, previous=None, gathering=gathering)

        with ThreadPoolExecutor(max_workers=len(seeds), thread_name_prefix="riffusion-take") as pool:
            return list(pool.map(take, range(len(seeds))))

    def _make(
        self,
        request: GenerationRequest,
        progress: ProgressFn,
        *,
        audio: tuple[bytes, str, float] | None,
        previous: Endpoint | None,
        init: tuple[Image.Image, str] | None = None,
        gathering: Gathering[SpectrogramJob, Any] | None = None,
    ) -> RiffusionGeneration:
        o = self.options
        progress("reading the prompt", 0, 1)
        spec = interpret(
            request.prompt,
            bpm=request.bpm,
            key=request.key,
            duration_s=request.duration_s,
            default_duration_s=request.default_duration_s,
            embedder=None,
        )
        notes: list[str] = []
        limit = min(float(request.max_duration_s), o.max_seconds)
        duration = spec.duration_s
        if duration > limit:
            notes.append(f"Asked for {duration:.0f} s; riffusion here makes at most {limit:.0f} s.")
            duration = limit
        self.pipeline()  # fail fast, before any work, when the model cannot load

        progress("drawing the seed", 0, 1)
        num, den = spec.time_signature
        if init is not None:
            seed_image, seed_kind = init
            denoising, bpm = o.denoising, None
        elif audio is not None:
            seed_image = audio_seed(audio[0], audio[1], start_s=audio[2], codec=self.codec)
            seed_kind, denoising, bpm = "your audio", o.audio_denoising, None
        elif spec.drums:
            style = drum_style_for_genres(spec.genres, spec.time_signature)
            seed_image = beat_seed(
                spec.tempo_bpm,
                style,
                time_signature=spec.time_signature,
                soundfont=self.soundfont,
                codec=self.codec,
            )
            bpm = spec.tempo_bpm
            seed_kind, denoising = f"{style} beat at {bpm:.0f} bpm", o.denoising
        else:
            seed_image = texture_seed("drone", seed=request.seed, codec=self.codec)
            seed_kind, denoising, bpm = "drone texture (no drums asked)", o.denoising, None

        layout = window_layout(duration, bpm, num * 4.0 / den, window_seconds(self.codec.params))
        first = Endpoint(request.prompt, request.seed, o.guidance, denoising)
        # extending: the first window is already one step past the previous piece's last point
        waypoints, offset = ([previous, first], 1) if previous is not None else ([first], 0)
        jobs, last = self._walk(waypoints, offset, layout.count, seed_image)

        submit = gathering.submit_many if gathering is not None else self.batcher().submit_many
        pixels = submit(jobs, lambda k, n: progress("denoising", k, n))

        progress("turning spectrograms into sound", 0, 1)
        images = [to_pil(p) for p in pixels]
        frame = (WINDOW_WIDTH, self.codec.params.num_frequencies)
        decoded = self.codec.image_to_audio_batch(
            [im if im.size == frame else im.resize(frame, Image.Resampling.BICUBIC) for im in images]
        )
        joined = concat_crossfade(decoded, layout.overlap_s) if len(decoded) > 1 else decoded[0]
        music = fit_length(joined, duration)
        progress("turning spectrograms into sound", 1, 1)

        summary = [
            f"seed: {seed_kind}",
            f"windows: {layout.count} × {window_seconds(self.codec.params):.2f} s, "
            f"{layout.overlap_s:.2f} s crossfades, walking seeds from {request.seed}",
            f"model: {o.model}, {o.steps} steps ({o.scheduler}), guidance {o.guidance:g}, "
            f"strength {denoising:g}",
        ] + spec.summary_lines()
        return RiffusionGeneration(
            audio=music,
            title=_title(request.prompt),
            duration_s=duration,
            summary=summary,
            tempo_bpm=bpm,
            key=None,
            time_signature=f"{num}/{den}",
            tags=spec.tags,
            notes=notes,
            preview_png=png_bytes(images[0]),
            seed_png=png_bytes(seed_image),
            last_endpoint=last,
            continue_from=(last.prompt, last.seed),
            windows=layout.count,
            extras={"seed": seed_kind, "stride_s": layout.stride_s},
        )

    def _walk(
        self, waypoints: list[Endpoint], offset: int, count: int, seed_image: Image.Image
    ) -> tuple[list[SpectrogramJob], Endpoint]:
        """Jobs for `count` windows walking waypoint to waypoint, alpha_steps windows a hop; the walk goes
        on past the last waypoint through its seed + 1, + 2 …; `offset` windows of the walk are skipped.
        Also returns the waypoint nearest the last window."""
        o = self.options
        size = o.image_size
        steps_per_hop = max(1, o.alpha_steps)

        def waypoint(index: int) -> Endpoint:
            if index < len(waypoints):
                return waypoints[index]
            last = waypoints[-1]
            seed = last.seed + index - len(waypoints) + 1
            return Endpoint(last.prompt, seed, last.guidance, last.denoising)

        jobs = []
        position = offset
        for k in range(count):
            hop, part = divmod(position + k, steps_per_hop)
            alpha = part / steps_per_hop
            end = waypoint(hop + 1) if part else None
            jobs.append(SpectrogramJob(waypoint(hop), end, alpha, seed_image, o.steps, size, size))
        final_hop, final_part = divmod(position + count - 1, steps_per_hop)
        return jobs, waypoint(final_hop + (1 if final_part * 2 >= steps_per_hop else 0))


def _title(prompt: str) -> str:
    words = prompt.strip().split()
    title = " ".join(words[:8]) + ("…" if len(words) > 8 else "")
    return title[:1].upper() + title[1:] if title else "Untitled"
