"""Riffusion's interpolation: one image between (prompt A, seed A) and (prompt B, seed B) at alpha.

Why this is how riffusion extends and transitions smoothly: consecutive windows drawn at nearby alphas from
the same seed image share most of their conditioning, so their sounds morph instead of jumping. The blend is
image-to-image from the seed image, with prompt embeddings lerped, the two seeds' initial noises slerped
(a straight lerp of two Gaussian vectors shrinks their norm, which the model reads as "less noise"), and
guidance and denoising strength lerped. A plain generation is the degenerate job with no end point, so
alpha 0 (and alpha 1) give exactly the plain images of A (and B).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from PIL import Image

from services.backends.riffusion.pipeline import DEFAULT_STEPS, Conditioning, SpectrogramPipeline, StepFn

if TYPE_CHECKING:
    import torch

DEFAULT_GUIDANCE = 7.0  # riffusion's reference guidance scale
DEFAULT_DENOISING = 0.75  # riffusion's reference strength for img2img from a seed image
AUDIO_DENOISING = 0.55  # riffusion's reference strength for audio-to-audio: keeps more of the user's sound
PARALLEL_DOT = 0.9995  # above this cosine the noises are treated as parallel and lerped (slerp is unstable)


@dataclass(frozen=True)
class Endpoint:
    """One end of an interpolation: what to play, which noise, how strongly."""

    prompt: str  # the text the image is conditioned on
    seed: int  # seeds the initial latent noise
    guidance: float = DEFAULT_GUIDANCE  # classifier-free guidance scale
    denoising: float = DEFAULT_DENOISING  # img2img strength: 0 keeps the seed image, 1 ignores it
    negative_prompt: str = ""  # what to steer away from ("" is the plain unconditional embedding)


@dataclass(frozen=True, eq=False)
class SpectrogramJob:
    """One spectrogram image to draw: a point between two endpoints, from a seed image or from text alone."""

    start: Endpoint  # alpha 0
    end: Endpoint | None = None  # alpha 1; None: a plain generation of `start`
    alpha: float = 0.0  # position between start and end, within [0, 1]
    init_image: Image.Image | None = None  # seed spectrogram for img2img; None: text-to-image
    steps: int = DEFAULT_STEPS  # scheduler steps for the full schedule (img2img runs strength × steps)
    width: int = 512  # image width in pixels (512: 5.11 s of audio)
    height: int = 512  # image height in pixels (512: the mel bins)

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0 or math.isnan(self.alpha):
            raise ValueError(f"alpha must be within [0, 1], got {self.alpha}")
        if self.steps < 1:
            raise ValueError("need at least one denoising step")

    @property
    def strength(self) -> float:
        """Denoising strength at alpha (1.0 for text-to-image, which runs the whole schedule)."""
        if self.init_image is None:
            return 1.0
        if self.end is None:
            return self.start.denoising
        # rounded: a lerp of equal strengths can land a hair below them and lose a whole step
        return round(lerp(self.start.denoising, self.end.denoising, self.alpha), 6)

    @property
    def guidance(self) -> float:
        if self.end is None:
            return self.start.guidance
        return lerp(self.start.guidance, self.end.guidance, self.alpha)

    def batch_key(self) -> tuple[int, int, int, bool, float]:
        """Jobs with equal keys can share one pipeline call (same schedule, size and kind)."""
        return (self.steps, self.width, self.height, self.init_image is not None, self.strength)


def lerp(a: float, b: float, alpha: float) -> float:
    """Linear blend that returns a and b exactly at the ends."""
    if alpha == 0.0:
        return a
    if alpha == 1.0:
        return b
    return a * (1.0 - alpha) + b * alpha


def lerp_tensor(a: torch.Tensor, b: torch.Tensor, alpha: float) -> torch.Tensor:
    if alpha == 0.0:
        return a
    if alpha == 1.0:
        return b
    return a * (1.0 - alpha) + b * alpha


def slerp(a: torch.Tensor, b: torch.Tensor, alpha: float, parallel_dot: float = PARALLEL_DOT) -> torch.Tensor:
    """Spherical blend of two noise tensors (computed in float64), keeping a Gaussian's typical norm."""
    if alpha == 0.0:
        return a
    if alpha == 1.0:
        return b
    a64, b64 = a.double(), b.double()
    dot = float((a64 * b64).sum() / (a64.norm() * b64.norm()))
    if abs(dot) > parallel_dot:
        return lerp_tensor(a64, b64, alpha).to(a.dtype)
    theta = math.acos(dot)
    blended = (math.sin((1.0 - alpha) * theta) * a64 + math.sin(alpha * theta) * b64) / math.sin(theta)
    return blended.to(a.dtype)


def conditioning(pipe: SpectrogramPipeline, job: SpectrogramJob) -> Conditioning:
    """The blended embeddings, noise and guidance of `job` (the plain ones when it has no end)."""
    a = job.start
    noise_a = pipe.noise(a.seed, job.width, job.height)
    if job.end is None:
        return Conditioning(pipe.embed(a.prompt), pipe.embed(a.negative_prompt), noise_a, a.guidance)
    b = job.end
    noise = slerp(noise_a, pipe.noise(b.seed, job.width, job.height), job.alpha)
    embeds = lerp_tensor(pipe.embed(a.prompt), pipe.embed(b.prompt), job.alpha)
    negative = lerp_tensor(pipe.embed(a.negative_prompt), pipe.embed(b.negative_prompt), job.alpha)
    return Conditioning(embeds, negative, noise, job.guidance)


def render(
    pipe: SpectrogramPipeline, jobs: Sequence[SpectrogramJob], on_step: StepFn | None = None
) -> npt.NDArray[np.float32]:
    """Images (batch, height, width, 3) in [0, 1] for jobs that share one batch key, in one pipeline call."""
    if not jobs:
        return np.zeros((0, 0, 0, 3), dtype=np.float32)
    keys = {job.batch_key() for job in jobs}
    if len(keys) != 1:
        raise ValueError(f"jobs in one call must share steps, size, kind and strength; got {sorted(keys)}")
    first = jobs[0]
    img2img = first.init_image is not None
    return pipe.denoise(
        [conditioning(pipe, job) for job in jobs],
        steps=first.steps,
        width=first.width,
        height=first.height,
        init_images=[job.init_image for job in jobs] if img2img else None,
        strength=first.strength,
        on_step=on_step,
    )


def interpolate(
    pipe: SpectrogramPipeline,
    start: Endpoint,
    end: Endpoint,
    alpha: float,
    init_image: Image.Image | None,
    *,
    steps: int = DEFAULT_STEPS,
    width: int = 512,
    height: int = 512,
    on_step: StepFn | None = None,
) -> npt.NDArray[np.float32]:
    """One image (height, width, 3) in [0, 1] at `alpha` between `start` and `end`."""
    job = SpectrogramJob(start, end, alpha, init_image, steps, width, height)
    return render(pipe, [job], on_step)[0]
