"""The styles backend: prompt → StyleSpec → Score → SoundFont audio, on the CPU.

Read top-down: understand the words, compose, render. Each stage reports
progress, and what was understood travels back as the summary.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from services.backends.base import BackendStatus, Generation, GenerationRequest, ProgressFn
from services.backends.styles import availability
from services.backends.styles.composer import compose
from services.backends.styles.config import StylesConfig
from services.prompting.embeddings import Embedder
from services.prompting.interpreter import interpret, meaning_texts
from services.render.soundfont import render_score
from services.score.midi import score_to_midi
from services.settings import Settings

_STEPS = 12  # 1 understanding + 1 composing + 10 rendering


class StylesBackend:
    """Mubert-like generation that shows what it understood and honours what was stated."""

    name: ClassVar[str] = "styles"

    def __init__(self, *, soundfont: Path | None, embedder: Embedder | None) -> None:
        self.soundfont = soundfont
        self.embedder = embedder
        self._warm_lock = threading.Lock()

    @classmethod
    def from_config(cls, config: StylesConfig) -> StylesBackend:
        embedder = Embedder(cache_dir=config.cache_dir) if config.embeddings else None
        return cls(soundfont=config.soundfont, embedder=embedder)

    @classmethod
    def from_settings(cls, settings: Settings) -> StylesBackend:
        return cls.from_config(StylesConfig.from_settings(settings))

    def available(self) -> BackendStatus:
        """The same check the registry runs for `/music backends` (styles/availability.py)."""
        verdict = availability.status(self.soundfont)
        return BackendStatus(self.name, verdict.available, verdict.reason)

    def warm(self) -> None:
        """Load the embedding model and the SoundFont now, so the first job is fast."""
        with self._warm_lock:
            if self.embedder is not None:
                self.embedder.warm(meaning_texts())
            render_score_warm(self.soundfont)

    def generate(self, request: GenerationRequest, progress: ProgressFn) -> Generation:
        progress("understanding the prompt", 0, _STEPS)
        duration = request.duration_s
        notes: list[str] = []
        spec = interpret(
            request.prompt,
            bpm=request.bpm,
            key=request.key,
            duration_s=duration,
            default_duration_s=request.default_duration_s,
            embedder=self.embedder,
        )
        if spec.duration_s > request.max_duration_s:
            notes.append(
                f"The prompt asked for {spec.duration_s:.0f} s; "
                f"this bot's limit is {request.max_duration_s:.0f} s."
            )
            spec = replace(spec, duration_s=float(request.max_duration_s))

        progress("composing", 1, _STEPS)
        score = compose(spec, request.seed)

        progress("rendering instruments", 2, _STEPS)
        audio = render_score(
            score,
            soundfont=self.soundfont,
            progress=lambda _stage, k, n: progress("rendering instruments", 2 + round(10 * k / n), _STEPS),
        )

        num, den = spec.time_signature
        return Generation(
            audio=audio,
            title=_title_from(spec.prompt),
            duration_s=spec.duration_s,
            summary=spec.summary_lines(),
            tempo_bpm=spec.tempo_bpm,
            key=spec.key.name(),
            time_signature=f"{num}/{den}",
            tags=spec.tags,
            midi=score_to_midi(score),
            notes=notes,
        )


def render_score_warm(soundfont: Path | None) -> None:
    """Load the SoundFont into the process cache by rendering nothing."""
    from services.score.model import Score

    render_score(Score(tempo_bpm=120.0, tracks=[], length_beats=0.25), soundfont=soundfont, tail_s=0.0)


def _title_from(prompt: str) -> str:
    words = prompt.strip().split()
    title = " ".join(words[:8])
    if len(words) > 8:
        title += "…"
    return title[:1].upper() + title[1:] if title else "Untitled"
