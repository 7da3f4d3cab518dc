"""Riffusion pipeline throughput on a full-size, random-weight Stable Diffusion 1.5 (riffusion's shape).

Run: .venv/bin/python bench/riffusion_pipeline.py [--steps N] [--size 512] [--batches 1,4] [--runs 2]
Builds the SD 1.5 UNet (block_out_channels 320/640/1280/1280, cross-attention 768, 8 heads, 2 layers per
block), its VAE (128/256/512/512) and a CLIP ViT-L/14 text encoder (768 wide, 12 layers) from configs with
random weights, so the timings are real without the weights (random weights cost the same FLOPs). The
denoising loop, batching and decoding to pixels are the backend's own (SpectrogramPipeline.denoise);
spectrogram → audio is the codec's and is timed separately by bench/riffusion_codec.py.
Device auto (cuda → mps → cpu), fp16 on CUDA. Prints seconds per 5.11 s clip at each batch size (median of
--runs after one warm-up). On a CPU the default is 2 steps, and it says so: multiply by steps/2 for a
real run. Text-to-image: the whole schedule; img2img at strength 0.75 runs three quarters of it.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build_components(device: str) -> object:
    """A StableDiffusionPipeline of SD 1.5's architecture with random weights, on `device`."""
    import string

    import torch
    from diffusers import (
        AutoencoderKL,
        DPMSolverMultistepScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from services.backends.riffusion.pipeline import dtype_for

    dtype = dtype_for(device)
    torch.manual_seed(0)
    with torch.device(device):
        unet = UNet2DConditionModel(
            sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280),
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            cross_attention_dim=768, attention_head_dim=8, norm_num_groups=32,
        ).to(dtype)
        vae = AutoencoderKL(
            in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512),
            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
            layers_per_block=2, sample_size=512,
        ).to(dtype)
        text = CLIPTextModel(CLIPTextConfig(
            hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
            vocab_size=49408, max_position_embeddings=77, projection_dim=768, hidden_act="quick_gelu",
        )).to(dtype)
    # a small character vocabulary: token ids differ from CLIP's, the encoder's cost does not
    folder = Path(tempfile.mkdtemp(prefix="bench-tok-"))
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in string.ascii_lowercase + string.digits + string.punctuation:
        vocab.setdefault(char, len(vocab))
        vocab.setdefault(char + "</w>", len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "model_max_length": 77, "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
    }))
    tokenizer = CLIPTokenizer.from_pretrained(folder)
    scheduler = DPMSolverMultistepScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                            steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    return pipe.to(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="steps (default 22 on GPU, 2 on CPU)")
    parser.add_argument("--size", type=int, default=512, help="image side in pixels (512: one 5.11 s clip)")
    parser.add_argument("--batches", default="1,4", help="comma-separated batch sizes")
    parser.add_argument("--runs", type=int, default=2, help="timed runs per batch size, after one warm-up")
    args = parser.parse_args()

    import torch

    from services.backends.riffusion.interpolate import Endpoint, SpectrogramJob, render
    from services.backends.riffusion.pipeline import SpectrogramPipeline, resolve_device

    device = resolve_device("auto")
    steps = args.steps or (22 if device != "cpu" else 2)
    started = time.perf_counter()
    pipe = SpectrogramPipeline(build_components(device), device=device)
    params = sum(p.numel() for p in pipe.pipe.unet.parameters()) / 1e6
    print(f"device {device} ({pipe.dtype}), UNet {params:.0f} M parameters, built in "
          f"{time.perf_counter() - started:.1f} s; {steps} steps, {args.size}×{args.size}")
    if device == "cpu":
        print(f"CPU: only {steps} steps, to finish in minutes; scale the figures by (real steps) / {steps}")

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    for batch in (int(b) for b in args.batches.split(",")):
        jobs = [SpectrogramJob(Endpoint("funky bass and drums", seed), steps=steps, width=args.size,
                               height=args.size) for seed in range(batch)]
        render(pipe, jobs)  # warm-up: kernels, allocator, embedding cache
        sync()
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            render(pipe, jobs)
            sync()
            times.append(time.perf_counter() - t0)
        per_clip = statistics.median(times) / batch
        print(f"batch {batch}: {statistics.median(times):.2f} s per call, {per_clip:.2f} s per 5.11 s clip "
              f"({per_clip / steps:.3f} s per clip-step)")
    if device == "cuda":
        print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
