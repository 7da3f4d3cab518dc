"""A test-only backend that makes a real sine tone, declared by one record and nothing else.

It is the proof that adding a backend is one record: registering `sine_record()` is all it takes for it to
appear in `/music backends`, autocomplete and `promptjam backends`, and to run in the lane it names. Its
summary says which thread and process made it, so a test can see the lane from the reply.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from services.audio.types import Audio
from services.backends.abilities import Ability
from services.backends.base import Availability, BackendStatus, Generation, GenerationRequest, ProgressFn
from services.backends.record import BackendRecord, Lane
from services.settings import Settings

FREQUENCY_HZ = 440.0
SAMPLE_RATE = 22_050


@dataclass(frozen=True)
class SineConfig:
    """The sine's typed slice of Settings: the longest piece it may make; tests may make it slow."""

    max_seconds: float
    step_s: float = 0.0  # a pause per progress step: a job that lasts long enough to be killed mid-render
    steps: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> SineConfig:
        return cls(float(settings.max_duration_s))


def check(config: SineConfig) -> Availability:
    return Availability(True, f"ready ({FREQUENCY_HZ:g} Hz)")


class SineBackend:
    name: ClassVar[str] = "sine"

    def __init__(self, config: SineConfig) -> None:
        self.config = config

    def available(self) -> BackendStatus:
        verdict = check(self.config)
        return BackendStatus(self.name, verdict.available, verdict.reason)

    def generate(self, request: GenerationRequest, progress: ProgressFn) -> Generation:
        seconds = min(request.duration_s or request.default_duration_s, self.config.max_seconds)
        progress("humming", 0, self.config.steps)
        for step in range(1, self.config.steps):
            time.sleep(self.config.step_s)
            progress("humming", step, self.config.steps)
        t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        tone = (0.3 * np.sin(2 * np.pi * FREQUENCY_HZ * t)).astype(np.float32)
        progress("humming", self.config.steps, self.config.steps)
        return Generation(
            audio=Audio(tone[np.newaxis, :], SAMPLE_RATE),
            title=f"Sine at {FREQUENCY_HZ:g} Hz",
            duration_s=seconds,
            summary=[
                f"a pure tone at {FREQUENCY_HZ:g} Hz",
                f"made on thread {threading.current_thread().name} in process {os.getpid()}",
            ],
            tags=("sine",),
        )


def sine_record(lane: Lane = Lane.MODEL, *, step_s: float = 0.0, steps: int = 1) -> BackendRecord[SineConfig]:
    def config(settings: Settings) -> SineConfig:
        return SineConfig(float(settings.max_duration_s), step_s, steps)

    return BackendRecord(
        name="sine",
        description="A pure 440 Hz tone (a test-only backend).",
        lane=lane,
        abilities=frozenset({Ability.TEXT}),
        config=config,
        check=check,
        factory=SineBackend,
    )


def dominant_hz(audio: Audio) -> float:
    """The strongest frequency of the first channel."""
    spectrum = np.abs(np.fft.rfft(audio.samples[0]))
    return float(np.fft.rfftfreq(audio.frames, 1.0 / audio.sample_rate)[int(np.argmax(spectrum))])
