"""Run the real `promptjam worker` in a process of its own, with the test-only sine backend registered.

Tests start it with `python -m tests.worker_process --backends sine …`; settings come from the environment
as in production. SINE_STEP_S / SINE_STEPS make the sine slow enough to kill a worker mid-render.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    from bot.cli import main as promptjam
    from services.backends.registry import register
    from tests.sine_backend import sine_record

    register(
        sine_record(
            step_s=float(os.environ.get("SINE_STEP_S", "0")), steps=int(os.environ.get("SINE_STEPS", "1"))
        )
    )
    return promptjam(["worker", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
