"""The code sandbox's cost: start-up overhead (median of 20 runs) per isolation layer combination.

Run: .venv/bin/python bench/code_sandbox.py   (prints figures; asserts nothing)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.backends.code.sandbox.isolation import CANDIDATES, probe  # noqa: E402
from services.backends.code.sandbox.layers import Isolation  # noqa: E402
from services.backends.code.sandbox.runner import run_module  # noqa: E402

TINY = "import numpy as np\n\ndef render(sr):\n    return np.zeros(sr // 10, dtype=np.float32) + 0.1\n"
RUNS = 20


def timed(isolation: Isolation) -> list[float]:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        run_module(TINY, sample_rate=8000, max_seconds=1.0, isolation=isolation)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    combos = [Isolation(), *(c for c in CANDIDATES if c.strong)]
    baseline: float | None = None
    print(f"{'isolation':<32} {'median':>9} {'p90':>9} {'vs limits only':>15}")
    for isolation in combos:
        problem = probe(isolation) if isolation.strong else None
        if problem is not None:
            print(f"{isolation.name:<32} unavailable here: {problem}")
            continue
        times = timed(isolation)
        median = statistics.median(times)
        p90 = sorted(times)[int(0.9 * (len(times) - 1))]
        if baseline is None:
            baseline = median
        extra = f"+{(median - baseline) * 1000:.0f} ms"
        print(f"{isolation.name:<32} {median * 1000:>7.0f} ms {p90 * 1000:>7.0f} ms {extra:>15}")
    print(f"({RUNS} runs each of a module that returns 0.1 s of audio; includes Python and numpy start-up)")


if __name__ == "__main__":
    main()
