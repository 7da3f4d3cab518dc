"""Styles engine speed: interpreter, composer, render real-time factor, peak RSS, cold `promptjam make`.

Run: .venv/bin/python bench/styles.py   (prints figures; asserts nothing)
Targets (issue #3): render ≥ 50× real time for 30 s on one core; first `promptjam make` result < 10 s wall.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPTS = [
    "melancholic lo-fi piano, 72 bpm, A minor",
    "upbeat 8-bit chiptune at 150 bpm",
    "a folk song that only uses A, B, C#, F# and G",
    "ambient drone, no drums",
    "a gentle waltz",
    "sunday morning coffee",
    "rainy night in tokyo",
    "epic orchestral battle music",
    "funky disco groove with slap bass",
    "dark techno warehouse at 130 bpm",
    "only piano and cello, sad and slow",
    "happy reggae on the beach",
    "jazz trio in a smoky bar",
    "heavy metal riff in E minor",
    "meditation music for sleep, 30 seconds",
    "80s synthwave night drive",
    "bossa nova by the sea",
    "hip hop beat for studying",
    "celtic jig with fiddle",
    "triumphant march in Bb major",
]


def main() -> None:
    os.sched_setaffinity(0, {0})  # one core, as the target says
    from services.backends.styles.composer import compose
    from services.prompting.embeddings import Embedder
    from services.prompting.interpreter import interpret, meaning_texts
    from services.render.soundfont import find_soundfont, load_soundfont, render_score

    cache = Path(tempfile.mkdtemp(prefix="pj-bench-"))
    t0 = time.perf_counter()
    embedder = Embedder(cache_dir=cache)
    embedder.warm(meaning_texts())
    warm_s = time.perf_counter() - t0
    interpret(PROMPTS[0], embedder=embedder)  # warm-up

    times = []
    specs = []
    for prompt in PROMPTS:
        t = time.perf_counter()
        specs.append(interpret(prompt, duration_s=30.0, embedder=embedder))
        times.append(time.perf_counter() - t)
    print(f"embedding model load + tag cache: {warm_s:.2f} s")
    print(
        f"interpreter per prompt (after warm-up): median {statistics.median(times) * 1000:.1f} ms, "
        f"max {max(times) * 1000:.1f} ms over {len(PROMPTS)} prompts"
    )

    ctimes = []
    scores = []
    for i, spec in enumerate(specs):
        t = time.perf_counter()
        scores.append(compose(spec, seed=i))
        ctimes.append(time.perf_counter() - t)
    print(
        f"composer for 30 s: median {statistics.median(ctimes) * 1000:.1f} ms, "
        f"max {max(ctimes) * 1000:.1f} ms"
    )

    load_soundfont(find_soundfont(None))
    rtfs = []
    for score in scores:
        t = time.perf_counter()
        audio = render_score(score)
        elapsed = time.perf_counter() - t
        rtfs.append(audio.duration / elapsed)
    print(
        f"render real-time factor, 30 s, one core: median {statistics.median(rtfs):.0f}×, "
        f"worst {min(rtfs):.0f}× (target ≥ 50×)"
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak_mb:.0f} MB")

    exe = ROOT / ".venv" / "bin" / "promptjam"
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, DATA_DIR=str(Path(tmp) / "data"))
        walls = []
        for label in ("cold (empty tag cache)", "warm (tag cache on disk)"):
            t = time.perf_counter()
            subprocess.run(
                [str(exe), "make", "rainy lo-fi piano, 80 bpm", "-o", str(Path(tmp) / "x.mp3"), "-q"],
                check=True,
                env=env,
                cwd=tmp,
            )
            wall = time.perf_counter() - t
            walls.append(wall)
            print(
                f"`promptjam make` first result, {label}: {wall:.1f} s wall including imports (target < 10 s)"
            )


if __name__ == "__main__":
    main()
