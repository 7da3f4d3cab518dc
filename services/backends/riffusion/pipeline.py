"""The Stable Diffusion model that draws spectrograms: loading it once, and one denoising loop for all uses.

Why our own loop rather than calling diffusers' text-to-image and image-to-image pipelines: riffusion's
interpolation needs per-item prompt embeddings, per-item initial noise (slerped between two seeds) and
per-item guidance, and batching needs every item's noise drawn from its own generator. One loop over the
pipeline's own components (tokenizer, text encoder, UNet, VAE, scheduler config) does text-to-image and
image-to-image alike, so a plain generation and an interpolation endpoint go through identical arithmetic.

The model loads lazily, once per process and configuration (`get_pipeline`), under a lock, so worker threads
share it. A fresh scheduler is made for every call (schedulers keep per-run state), and inference itself is
serialised by a per-model lock: the batcher, not concurrent calls, is how throughput is gained.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from services.backends.batching import StepFn
from services.backends.model_loading import MODEL_LOAD_LOCK, resolve_device

if TYPE_CHECKING:
    import torch


DEFAULT_SCHEDULER = "dpm++"
DEFAULT_STEPS = 22  # DPM-Solver++ multistep is converged by about 20–25 steps
SCHEDULERS = {  # setting value → diffusers class name
    "dpm++": "DPMSolverMultistepScheduler",
    "ddim": "DDIMScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler-a": "EulerAncestralDiscreteScheduler",
    "pndm": "PNDMScheduler",
    "lms": "LMSDiscreteScheduler",
}


@dataclass(frozen=True)
class PipelineConfig:
    """Where the model comes from and how it runs; equal configs share one loaded model."""

    model: str  # hub id ("riffusion/riffusion-model-v1") or a local folder with model_index.json
    revision: str | None = None  # hub branch, tag or commit; None: the default branch
    device: str = "auto"  # "auto" (cuda → mps → cpu), "cuda", "mps" or "cpu"
    scheduler: str = DEFAULT_SCHEDULER  # a key of SCHEDULERS
    allow_download: bool = False  # False: a hub id must already be in the local cache (no network)

    def __post_init__(self) -> None:
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {self.scheduler!r}; choose from {', '.join(SCHEDULERS)}")
        if self.device not in ("auto", "cpu", "cuda", "mps"):
            raise ValueError(f"unknown device {self.device!r}; use auto, cpu, cuda or mps")


@dataclass(frozen=True)
class Conditioning:
    """Everything one image depends on besides the shared steps, size and strength."""

    embeds: torch.Tensor  # (tokens, dim) prompt embeddings
    negative: torch.Tensor  # (tokens, dim) unconditional / negative-prompt embeddings
    noise: torch.Tensor  # (4, h/8, w/8) initial latent noise, float32 on the CPU
    guidance: float  # classifier-free guidance scale


def dtype_for(device: str) -> torch.dtype:
    """Half precision where it is fast and safe (CUDA); float32 elsewhere (CPU and MPS)."""
    import torch

    return torch.float16 if device == "cuda" else torch.float32


class SpectrogramPipeline:
    """A loaded Stable Diffusion model plus the denoising loop that draws spectrogram images with it."""

    def __init__(self, components: Any, *, device: str, scheduler: str = DEFAULT_SCHEDULER) -> None:
        """`components`: a diffusers StableDiffusionPipeline (its tokenizer, text encoder, UNet, VAE and
        scheduler are used), already on `device` in its run dtype."""
        import torch

        if scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {scheduler!r}; choose from {', '.join(SCHEDULERS)}")
        self.pipe = components
        self.device = torch.device(device)
        self.dtype: torch.dtype = components.unet.dtype
        self.scheduler_name = scheduler
        self._run_lock = threading.Lock()
        self._embed_lock = threading.Lock()
        self._embed_cache: dict[str, torch.Tensor] = {}

    @classmethod
    def load(cls, config: PipelineConfig) -> SpectrogramPipeline:
        """Load from a hub id or a local folder: no safety checker (these are spectrograms), fp16 on CUDA."""
        from diffusers import StableDiffusionPipeline
        from diffusers.utils import deprecation_utils

        device = resolve_device(config.device)
        # diffusers renamed torch_dtype to dtype (0.36); older releases only know the first
        renamed = hasattr(deprecation_utils, "_TORCH_DTYPE_DEPRECATION_MESSAGE")
        dtype_arg = "dtype" if renamed else "torch_dtype"
        pipe = StableDiffusionPipeline.from_pretrained(
            config.model,
            revision=config.revision,
            **{dtype_arg: dtype_for(device)},
            safety_checker=None,
            requires_safety_checker=False,
            local_files_only=not config.allow_download,
        )
        pipe = pipe.to(device)
        pipe.set_progress_bar_config(disable=True)
        for module in (pipe.unet, pipe.vae, pipe.text_encoder):
            module.eval()
            module.requires_grad_(False)
        return cls(pipe, device=device, scheduler=config.scheduler)

    # ---- geometry --------------------------------------------------------------------------------

    @property
    def vae_scale(self) -> int:
        """Pixels per latent cell (8 for Stable Diffusion)."""
        return int(2 ** (len(self.pipe.vae.config.block_out_channels) - 1))

    def latent_shape(self, width: int, height: int) -> tuple[int, int, int]:
        """(channels, rows, columns) of the latents for an image of `width` × `height` pixels."""
        scale = self.vae_scale
        if width % scale or height % scale or width <= 0 or height <= 0:
            raise ValueError(f"image size must be a positive multiple of {scale}, got {width}×{height}")
        return int(self.pipe.unet.config.in_channels), height // scale, width // scale

    # ---- conditioning ----------------------------------------------------------------------------

    def embed(self, prompt: str) -> torch.Tensor:
        """CLIP embeddings (tokens, dim) of `prompt` in the run dtype, cached per text (prompts repeat)."""
        import torch

        with self._embed_lock:
            cached = self._embed_cache.get(prompt)
        if cached is not None:
            return cached
        tokenizer = self.pipe.tokenizer
        ids = tokenizer(
            prompt,
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids.to(self.device)
        with torch.inference_mode():
            embeds = self.pipe.text_encoder(ids)[0][0].to(self.dtype)
        with self._embed_lock:
            if len(self._embed_cache) > 256:
                self._embed_cache.clear()
            self._embed_cache[prompt] = embeds
        return embeds

    def noise(self, seed: int, width: int, height: int) -> torch.Tensor:
        """The initial latent noise of `seed`: drawn on the CPU so every device gets the same numbers."""
        import torch

        generator = torch.Generator(device="cpu").manual_seed(int(seed))
        return torch.randn(self.latent_shape(width, height), generator=generator, dtype=torch.float32)

    # ---- the loop ----------------------------------------------------------------------------------

    def denoise(
        self,
        items: Sequence[Conditioning],
        *,
        steps: int,
        width: int,
        height: int,
        init_images: Sequence[Image.Image | None] | None = None,
        strength: float = 1.0,
        on_step: StepFn | None = None,
    ) -> npt.NDArray[np.float32]:
        """Images (batch, height, width, 3) in [0, 1] for a batch of conditionings, in one UNet call a step.

        Text-to-image when `init_images` is None; otherwise every item is image-to-image from its image
        (resized to the run size) at denoising `strength` (the share of the schedule that is run, as in
        diffusers). `on_step(k, n)` is called after each step and may raise to stop (e.g. Cancelled).
        Each item's result depends only on its own conditioning, so batching does not change it.
        """
        import torch

        if not items:
            return np.zeros((0, height, width, 3), dtype=np.float32)
        if steps < 1:
            raise ValueError("need at least one denoising step")
        if init_images is not None and len(init_images) != len(items):
            raise ValueError("one init image per item, or none at all")
        if not 0.0 < strength <= 1.0:
            raise ValueError("denoising strength must be within (0, 1]")
        shape = self.latent_shape(width, height)
        with self._run_lock, torch.inference_mode():
            scheduler = self._fresh_scheduler()
            scheduler.set_timesteps(steps, device=self.device)
            timesteps = scheduler.timesteps
            noise = torch.stack([item.noise.reshape(shape) for item in items]).to(self.device, self.dtype)
            if init_images is None:
                latents = noise * scheduler.init_noise_sigma
            else:
                run = min(int(steps * strength + 1e-6), steps)  # diffusers' count, immune to float dust
                if run < 1:
                    raise ValueError(f"strength {strength} leaves no denoising step out of {steps}")
                start = (steps - run) * scheduler.order
                timesteps = timesteps[start:]
                if hasattr(scheduler, "set_begin_index"):
                    scheduler.set_begin_index(start)
                init = self._encode_images(init_images, width, height)
                latents = scheduler.add_noise(init, noise, timesteps[:1].repeat(len(items)))
            negative = torch.stack([i.negative for i in items])
            text = torch.cat([negative, torch.stack([i.embeds for i in items])])
            guidance = torch.tensor([i.guidance for i in items], device=self.device, dtype=self.dtype)
            guidance = guidance.reshape(-1, 1, 1, 1)
            total = len(timesteps)
            for index, t in enumerate(timesteps):
                model_in = scheduler.scale_model_input(torch.cat([latents, latents]), t)
                predicted = self.pipe.unet(model_in, t, encoder_hidden_states=text).sample
                uncond, cond = predicted.chunk(2)
                latents = scheduler.step(uncond + guidance * (cond - uncond), t, latents).prev_sample
                if on_step is not None:
                    on_step(index + 1, total)
            return self._decode_latents(latents)

    def _fresh_scheduler(self) -> Any:
        """A new scheduler of the configured kind (they keep per-run state, so never share one)."""
        import diffusers

        cls = getattr(diffusers, SCHEDULERS[self.scheduler_name])
        return cls.from_config(self.pipe.scheduler.config)

    def _encode_images(self, images: Sequence[Image.Image | None], width: int, height: int) -> torch.Tensor:
        """VAE latents of the init images: the distribution's mean, so they do not depend on any seed."""
        import torch

        pixels = []
        for image in images:
            if image is None:
                raise ValueError("image-to-image needs an init image for every item")
            rgb = image.convert("RGB")
            if rgb.size != (width, height):
                rgb = rgb.resize((width, height), Image.Resampling.BICUBIC)
            array = np.asarray(rgb, dtype=np.float32) / 127.5 - 1.0
            pixels.append(torch.from_numpy(array.transpose(2, 0, 1).copy()))
        batch = torch.stack(pixels).to(self.device, self.dtype)
        vae = self.pipe.vae
        latents = vae.encode(batch).latent_dist.mean
        return latents * float(vae.config.scaling_factor)

    def _decode_latents(self, latents: torch.Tensor) -> npt.NDArray[np.float32]:
        vae = self.pipe.vae
        images = vae.decode(latents / float(vae.config.scaling_factor)).sample
        images = (images.float() / 2.0 + 0.5).clamp(0.0, 1.0)
        return np.ascontiguousarray(images.permute(0, 2, 3, 1).cpu().numpy(), dtype=np.float32)


def to_pil(pixels: npt.NDArray[np.float32]) -> Image.Image:
    """One (height, width, 3) image in [0, 1] as an 8-bit RGB picture (what the codec decodes)."""
    return Image.fromarray(np.round(pixels * 255.0).astype(np.uint8), mode="RGB")


_pipelines: dict[PipelineConfig, SpectrogramPipeline] = {}
_pipelines_lock = threading.Lock()


def get_pipeline(config: PipelineConfig) -> SpectrogramPipeline:
    """The process's one loaded model for `config`, loading it on first use (thread-safe)."""
    with _pipelines_lock:
        pipeline = _pipelines.get(config)
        if pipeline is None:
            with MODEL_LOAD_LOCK:
                pipeline = SpectrogramPipeline.load(config)
            _pipelines[config] = pipeline
        return pipeline


def forget_pipelines() -> None:
    """Drop every loaded model (tests, or freeing GPU memory after a settings change)."""
    with _pipelines_lock:
        _pipelines.clear()
