"""Song backend (ACE-Step 1.5) throughput: seconds per 60 s song at batch 1 and batch 4.

Run: .venv/bin/python bench/song.py [--quick] [--runs N] [--steps 8]
     .venv/bin/python bench/song.py --full [--xl] [--dtype bfloat16,float16] [--runs N]
(prints figures and a table; asserts nothing, on time or anything else)

Default: the tiny random-weight model of the tests (tests/tiny_models.build_tiny_song_model: 16 kHz, 25 latent
frames a second, so songs have real lengths) saved in a temporary folder and loaded on the CPU exactly as the
backend loads a model (services/backends/song/pipeline.load). Each figure is one `render(pipe, jobs)` call,
the backend's own pipeline call, for 1 and for 4 jobs of distinct seeds (median of --runs after one warm-up),
divided by the number of songs. The time to the last denoising step's callback is reported apart from the
rest (VAE decoding, normalisation and the copy out to NumPy). This shows the batched call works and what the
code around the model costs; the model is tiny, so it says nothing about real speed (on a CPU the tiny VAE's
decoding, which grows with the number of songs, is most of the time, so batch 4 gains little there).
--quick: 30 s songs and one timed run, and the figure is scaled to 60 s (x2; an underestimate where cost
grows faster than length). About 20 s on 2 idle cores, 13 s with --quick (more on a busy machine).

--full (needs a CUDA GPU; without one it says so and exits 0): full-size ACE-Step 1.5 shapes with random
weights (random weights cost the same FLOPs), built in memory on the GPU in each --dtype, no save and load:
- DiT: AceStepTransformer1DModel's default config, diffusers' full-size ACE-Step 1.5 (hidden 2048, 24 layers,
  16 heads / 8 KV heads, in_channels 192, acoustic dim 64; 1.6 B parameters), marked turbo (8 steps, no
  classifier-free guidance). --xl: the XL turbo's shape, the default ACESTEP_MODEL (hidden 2560, intermediate
  9728, 32 layers, 32 heads / 8 KV, condition width 2048; 4.2 B parameters). The XL shape comes from public
  descriptions of the checkpoint, not from its config.json, which could not be read offline.
- condition encoder at its full default size (hidden 2048, 8 lyric and 4 timbre layers), text_hidden_dim 1024;
  audio tokenizer and detokenizer at full default size (the real pipeline keeps them on the GPU too).
- Oobleck VAE as ACE-Step's: encoder_hidden_size 128, downsampling 2*4*4*6*10 = 1920 (48 kHz / 1920 = 25
  latents a second), channel_multiples 1,2,4,8,16, decoder_channels 128, 64 latent channels, stereo, 48 kHz.
- text encoder: a random Qwen3 of Qwen3-Embedding-0.6B's shape (hidden 1024, --text-layers, 28 by default
  as the real one; 16 heads / 8 KV, vocabulary 151669), fed by a word-level tokenizer built in code: one token
  per word, where Qwen's tokenizer makes a few more; the lengths are padded to the same buckets anyway.
Each dtype times batch 1 and batch 4 of 60 s songs at --steps (8) and prints seconds per 60 s song and the
peak of torch.cuda.max_memory_allocated() per batch size. Goal: under 2 s per 60 s song at batch 4 on an
H100/H200 ("met" is only judged on those). fp16 with random weights may overflow to inf/NaN; that costs
the same time and is not checked.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.figures import Row, table  # noqa: E402

SONG_S = 60.0  # the figure is always per 60 s song
QUICK_SONG_S = 30.0
BATCHES = (1, 4)
GOAL_S = 2.0  # per 60 s song at batch 4 on an H100/H200
GOAL_GPUS = ("H100", "H200")
PROMPT = "upbeat synth-pop, female vocals, punchy drums, bright analog bass, catchy chorus"
LYRICS = """[verse]
City lights are calling out my name tonight
Every window glowing like a little sun
We keep on running till the morning light
Nothing we could lose and nothing left undone

[chorus]
Hold on, hold on, we are the radio
Singing through the static, never letting go
Hold on, hold on, the night is ours to keep
Dancing on the rooftops, no time left for sleep

[verse]
Neon on the pavement painting every step
Heartbeat on the bassline, louder than before
Every little promise that we never kept
Echoes in the stairwell, knocking at the door

[chorus]
Hold on, hold on, we are the radio
Singing through the static, never letting go"""


@dataclass(frozen=True)
class Timing:
    call_s: float  # median wall time of one render() call
    denoise_s: float  # median time from the call to its last denoising step


def say(text: str) -> None:
    print(text, flush=True)


# --- timing ----------------------------------------------------------------------------------------


def jobs_for(batch: int, duration_s: float, steps: int) -> list[Any]:
    from services.backends.song.backend import SongJob

    return [
        SongJob(
            prompt=PROMPT,
            lyrics=LYRICS,
            language="en",
            seed=seed,
            duration_s=duration_s,
            bpm=120,
            keyscale="A minor",
            timesignature="4",
            steps=steps,
            guidance=1.0,  # as a turbo checkpoint runs: no classifier-free guidance (base/SFT ones double it)
            shift=3.0,
        )
        for seed in range(batch)
    ]


def measure(pipe: Any, jobs: list[Any], runs: int, sync: Callable[[], None]) -> Timing:
    """One warm-up call, then the median of `runs` calls of the backend's own render()."""
    from services.backends.song.backend import render

    steps = jobs[0].steps
    render(pipe, jobs)  # warm-up: kernels, allocator, thread pools
    sync()
    calls, denoising = [], []
    done: list[float] = []  # when the last denoising step ended, for the run in progress

    def on_step(step: int, total: int) -> None:
        if step == steps:
            sync()
            done.append(time.perf_counter())

    for _ in range(runs):
        done.clear()
        t0 = time.perf_counter()
        render(pipe, jobs, on_step)
        sync()
        end = time.perf_counter()
        calls.append(end - t0)
        denoising.append((done[0] if done else end) - t0)
    return Timing(statistics.median(calls), statistics.median(denoising))


def song_rows(label: str, batch: int, timing: Timing, scale: float, goal: str, met: bool | None) -> list[Row]:
    """Seconds per 60 s song (`scale`: 60 s / the measured song length) and where they went."""
    per_song = timing.call_s / batch * scale
    denoise = timing.denoise_s / batch * scale
    return [
        Row(f"{label}, batch {batch}: s per 60 s song", f"{per_song:.2f}", goal, met),
        Row("  of which denoising", f"{denoise:.2f}", "", None),
        Row("  of which VAE decode, normalise, copy out", f"{per_song - denoise:.2f}", "", None),
    ]


# --- tiny model, CPU ---------------------------------------------------------------------------------


def tiny(args: argparse.Namespace) -> list[Row]:
    import torch

    from services.backends.song.pipeline import LoadConfig, load
    from tests.tiny_models import build_tiny_song_model

    duration = QUICK_SONG_S if args.quick else SONG_S
    runs = args.runs or (1 if args.quick else 3)
    scale = SONG_S / duration
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-song-") as tmp:
        started = time.perf_counter()
        folder = build_tiny_song_model(Path(tmp))
        pipe = load(LoadConfig(str(folder), device="cpu"))
        say(
            f"tiny random-weight ACE-Step 1.5 on cpu ({torch.get_num_threads()} threads), "
            f"{pipe.sample_rate} Hz, {pipe.latents_per_second:g} latents/s; built and loaded in "
            f"{time.perf_counter() - started:.1f} s"
        )
        say(f"{duration:.0f} s songs, {args.steps} steps, median of {runs} run(s) after a warm-up")
        if scale != 1:
            say(f"--quick: {duration:.0f} s songs; figures scaled x{scale:g} to a 60 s song")
        label = "tiny, cpu" + (f" ({duration:.0f} s songs x{scale:g})" if scale != 1 else "")
        per_song: dict[int, float] = {}
        for batch in BATCHES:
            timing = measure(pipe, jobs_for(batch, duration, args.steps), runs, lambda: None)
            per_song[batch] = timing.call_s / batch * scale
            say(
                f"  batch {batch}: {timing.call_s:.2f} s per call, {per_song[batch]:.2f} s per 60 s song "
                f"(denoising {timing.denoise_s:.2f} s of the call)"
            )
            rows += song_rows(label, batch, timing, scale, "", None)
    rows.append(Row("batch 4 vs batch 1, songs/s", f"{per_song[1] / per_song[4]:.2f}x", "", None))
    return rows


# --- full-size shapes, GPU -------------------------------------------------------------------------------


def word_tokenizer() -> Any:
    """A word-level tokenizer over the bench's own words (Qwen's cannot be fetched offline)."""
    import re
    import string

    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<unk>": 1, "<|endoftext|>": 2}
    for word in list(string.ascii_letters + string.digits + string.punctuation) + re.findall(
        r"\w+", PROMPT + " " + LYRICS
    ):
        vocab.setdefault(word, len(vocab))
    words = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=words,
        pad_token="<pad>",
        unk_token="<unk>",
        eos_token="<|endoftext|>",
        model_max_length=32768,
    )


def build_full(device: str, dtype: Any, *, xl: bool, text_layers: int) -> tuple[Any, dict[str, float]]:
    """The song backend's pipeline class around full-size random-weight parts, on `device` in `dtype`;
    and each part's parameter count in millions."""
    import torch
    from diffusers import AutoencoderOobleck, FlowMatchEulerDiscreteScheduler
    from diffusers.models.transformers.ace_step_transformer import AceStepTransformer1DModel
    from diffusers.pipelines.ace_step import (
        AceStepAudioTokenDetokenizer,
        AceStepAudioTokenizer,
        AceStepConditionEncoder,
    )
    from transformers import Qwen3Config, Qwen3Model

    from services.backends.song.pipeline import _pipeline_class

    ratios = [2, 4, 4, 6, 10]
    assert math.prod(ratios) == 1920, "48 kHz / 1920 = ACE-Step's 25 latent frames a second"
    dit_shape: dict[str, Any] = {}
    if xl:
        dit_shape = dict(
            hidden_size=2560,
            intermediate_size=9728,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=8,
            encoder_hidden_size=2048,
        )
    torch.manual_seed(0)
    parts: dict[str, Any] = {}
    # made on the device in the run dtype (no float32 copy to hold: the XL's DiT alone is 17 GB in float32)
    default_dtype = torch.get_default_dtype()
    with torch.device(device):
        makers: dict[str, Callable[[], Any]] = {
            "transformer": lambda: AceStepTransformer1DModel(is_turbo=True, **dit_shape),
            "condition_encoder": lambda: AceStepConditionEncoder(text_hidden_dim=1024),
            "audio_tokenizer": lambda: AceStepAudioTokenizer(),
            "audio_token_detokenizer": lambda: AceStepAudioTokenDetokenizer(),
            "vae": lambda: AutoencoderOobleck(
                encoder_hidden_size=128,
                downsampling_ratios=ratios,
                channel_multiples=[1, 2, 4, 8, 16],
                decoder_channels=128,
                decoder_input_channels=64,
                audio_channels=2,
                sampling_rate=48000,
            ),
            "text_encoder": lambda: Qwen3Model(
                Qwen3Config(
                    hidden_size=1024,
                    intermediate_size=3072,
                    num_hidden_layers=text_layers,
                    num_attention_heads=16,
                    num_key_value_heads=8,
                    head_dim=128,
                    vocab_size=151669,
                    max_position_embeddings=32768,
                )
            ),
        }
        torch.set_default_dtype(dtype)
        try:
            for name, make in makers.items():
                parts[name] = make().to(dtype).eval().requires_grad_(False)
        finally:
            torch.set_default_dtype(default_dtype)
    counts = {name: sum(p.numel() for p in part.parameters()) / 1e6 for name, part in parts.items()}
    pipe = _pipeline_class()(
        tokenizer=word_tokenizer(),
        scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0),
        **parts,
    )
    pipe.set_progress_bar_config(disable=True)
    pipe.run_device = device
    return pipe, counts


def full(args: argparse.Namespace) -> list[Row] | None:
    import torch

    if not torch.cuda.is_available():
        say(
            "--full needs a CUDA GPU and torch sees none here (torch.cuda.is_available() is False); "
            "nothing measured. The default run (tiny model, CPU) works anywhere."
        )
        return None
    gpu = torch.cuda.get_device_name()
    judged = any(name in gpu for name in GOAL_GPUS)
    runs = args.runs or (1 if args.quick else 3)
    shape = "ACE-Step 1.5 XL turbo shape" if args.xl else "ACE-Step 1.5 turbo shape"
    say(f"{gpu}; {shape}, random weights; {SONG_S:.0f} s songs, {args.steps} steps, median of {runs} run(s)")
    if not judged:
        say(f"the goal (< {GOAL_S:g} s per 60 s song at batch 4) is for an H100/H200; not judged on {gpu}")

    def sync() -> None:
        torch.cuda.synchronize()

    rows: list[Row] = []
    for dtype_name in (d.strip() for d in args.dtype.split(",") if d.strip()):
        dtype = getattr(torch, dtype_name)
        started = time.perf_counter()
        pipe, counts = build_full("cuda", dtype, xl=args.xl, text_layers=args.text_layers)
        sync()
        torch.cuda.empty_cache()
        weights_gib = torch.cuda.memory_allocated() / 2**30
        say(
            f"[{dtype_name}] built in {time.perf_counter() - started:.1f} s; parameters (M): "
            + ", ".join(f"{name} {count:.0f}" for name, count in counts.items())
            + f"; {sum(counts.values()) / 1e3:.2f} B in all, {weights_gib:.1f} GiB on the GPU"
        )
        label = f"{'xl' if args.xl else 'turbo'} {dtype_name}, {gpu}"
        rows.append(Row(f"{label}: weights on the GPU", f"{weights_gib:.1f} GiB", "", None))
        for batch in BATCHES:
            torch.cuda.reset_peak_memory_stats()
            try:
                timing = measure(pipe, jobs_for(batch, SONG_S, args.steps), runs, sync)
            except torch.cuda.OutOfMemoryError as exc:
                say(f"  batch {batch}: out of GPU memory ({exc})".splitlines()[0])
                rows.append(Row(f"{label}, batch {batch}", "out of memory", "", False))
                torch.cuda.empty_cache()
                continue
            peak_gib = torch.cuda.max_memory_allocated() / 2**30
            per_song = timing.call_s / batch
            say(
                f"  batch {batch}: {timing.call_s:.2f} s per call, {per_song:.2f} s per 60 s song "
                f"(denoising {timing.denoise_s:.2f} s of the call), peak {peak_gib:.1f} GiB"
            )
            goal, met = "", None
            if batch == 4:
                goal = f"< {GOAL_S:g} s (H100/H200)"
                met = per_song < GOAL_S if judged else None
            rows += song_rows(label, batch, timing, 1.0, goal, met)
            rows.append(Row(f"  peak GPU memory, batch {batch}", f"{peak_gib:.1f} GiB", "", None))
        del pipe
        torch.cuda.empty_cache()
    return rows


def quiet() -> None:
    """No progress bars, deprecation notes or library warnings between the figures."""
    import warnings

    from diffusers.utils import logging as diffusers_logging
    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging as transformers_logging

    warnings.filterwarnings("ignore", message=".*torch.nn.utils.weight_norm.*")
    for library in (diffusers_logging, transformers_logging):
        library.set_verbosity_error()
        library.disable_progress_bar()
    disable_progress_bars()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 s songs (tiny model) and one timed run")
    parser.add_argument("--full", action="store_true", help="full-size random-weight model on a CUDA GPU")
    parser.add_argument("--xl", action="store_true", help="with --full: the XL turbo's shape (~4.2 B DiT)")
    parser.add_argument(
        "--dtype", default="bfloat16,float16", help="with --full: comma-separated dtypes, each timed"
    )
    parser.add_argument("--text-layers", type=int, default=28, help="with --full: Qwen3 text encoder layers")
    parser.add_argument("--steps", type=int, default=8, help="denoising steps (turbo checkpoints: 8)")
    parser.add_argument("--runs", type=int, default=None, help="timed runs after one warm-up (3; 1 --quick)")
    args = parser.parse_args()
    for name in (d.strip() for d in args.dtype.split(",") if d.strip()):
        if name not in ("float16", "bfloat16", "float32"):
            parser.error(f"--dtype: {name!r} is not float16, bfloat16 or float32")

    quiet()
    started = time.perf_counter()
    rows = full(args) if args.full else tiny(args)
    if rows is None:
        return
    say("")
    say(table(rows))
    say(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
