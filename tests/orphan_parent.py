"""A parent process for the parent-death tests: it starts children, reports their pids, then waits to be
killed. Run as `python -m tests.orphan_parent MODE ARG`; every line it prints is "<what> <pid>".

Modes:
- executor FIFO: a real ProcessExecutor whose worker is given an image job reading FIFO (it blocks there
  mid-job, as on a hung disk, until someone writes);
- watch: two spawned children asleep, one guarded by lifeline.watch_parent alone (no prctl), one not;
- sandbox: a real code-sandbox run of a module that sleeps (the inside runs under the given isolation).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import time
from pathlib import Path


def _report(what: str, pid: int) -> None:
    print(f"{what} {pid}", flush=True)


async def _executor(fifo: str) -> None:
    from services.jobs.executors import ProcessExecutor
    from services.jobs.models import MusicRequest
    from services.settings import Settings

    settings = Settings(_env_file=None, data_dir=Path(fifo).parent / "data", embeddings_enabled=False)  # type: ignore[call-arg]
    executor = ProcessExecutor(settings, workers=1)
    await executor.start()
    _report("worker", executor._slots[0].process.pid)
    request = MusicRequest("a picture", input_path=fifo, input_kind="image", image_mode="sonify")
    await executor.run("stuck", request, lambda stage, step, total: print(f"progress {step}", flush=True))


def _sleep(guarded: bool, parent: int) -> None:
    if guarded:
        from services.jobs.lifeline import watch_parent

        watch_parent(parent, poll_s=0.1)
    time.sleep(600)


def _watch() -> None:
    ctx = multiprocessing.get_context("spawn")
    for name, guarded in (("guarded", True), ("unguarded", False)):
        child = ctx.Process(target=_sleep, args=(guarded, os.getpid()), daemon=False)
        child.start()
        _report(name, child.pid or 0)
    time.sleep(600)


def _sandbox(isolation_name: str) -> None:
    from services.backends.code.sandbox.layers import Isolation, Limits
    from services.backends.code.sandbox.runner import run_module

    isolation = Isolation(bubblewrap=isolation_name == "bubblewrap")
    _report("host", os.getpid())
    source = "import time\n\ndef render(sr):\n    time.sleep(600)\n    return [0.0]\n"
    run_module(source, sample_rate=8000, max_seconds=1.0, isolation=isolation, limits=Limits(wall_s=600.0))


def main() -> None:
    mode, arg = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "")
    if mode == "executor":
        asyncio.run(_executor(arg))
    elif mode == "watch":
        _watch()
    elif mode == "sandbox":
        _sandbox(arg)
    time.sleep(600)


if __name__ == "__main__":
    main()
