"""Children die with their parent: ProcessExecutor workers (even stuck mid-job), and the code sandbox.

Each test kills a real parent process (tests/orphan_parent.py) with SIGKILL, so no cleanup of its own
runs, and then watches its children with psutil.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from services.backends.code.sandbox.isolation import detect
from tests.processes import alive

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 20.0  # generous: the kernel's death signal is immediate, the portable watch near enough


@dataclass
class Parent:
    """The parent process; what it prints goes to a file (a pipe would be held open by its children)."""

    proc: asyncio.subprocess.Process
    out: Path

    async def pid(self, what: str) -> psutil.Process:
        """The process it reported as '<what> <pid>'."""
        deadline = time.monotonic() + 120
        while True:
            for line in self.out.read_text().splitlines():
                name, _, pid = line.partition(" ")
                if name == what:
                    return psutil.Process(int(pid))
            assert self.proc.returncode is None, f"the parent exited before reporting {what}"
            assert time.monotonic() < deadline, f"the parent never reported {what}"
            await asyncio.sleep(0.05)

    async def kill(self) -> None:
        self.proc.kill()
        await asyncio.wait_for(self.proc.wait(), 30)


@contextlib.asynccontextmanager
async def orphan_parent(tmp_path: Path, *args: str) -> AsyncIterator[Parent]:
    out = tmp_path / "parent.out"
    with out.open("w") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.orphan_parent",
            *args,
            cwd=ROOT,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)},
            stdout=sink,
        )
    parent = Parent(proc, out)
    try:
        yield parent
    finally:
        if proc.returncode is None:
            await parent.kill()




async def _until_gone(procs: list[psutil.Process], timeout: float = DEADLINE) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while alive(procs) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return alive(procs)


def _kill_all(procs: list[psutil.Process]) -> None:
    for p in alive(procs):
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()


async def test_a_worker_stuck_mid_job_dies_with_its_parent(tmp_path: Path) -> None:
    fifo = tmp_path / "picture.png"
    os.mkfifo(fifo)
    writer = -1
    async with orphan_parent(tmp_path, "executor", str(fifo)) as parent:
        worker = await parent.pid("worker")
        try:
            # The job reads its picture from the FIFO: once a writer can open it, the worker is inside the
            # job, blocked in a read that will never end on its own (no data comes, the writer stays).
            deadline = time.monotonic() + 120
            while writer < 0:
                try:
                    writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                except OSError as exc:
                    assert exc.errno == errno.ENXIO and time.monotonic() < deadline, exc
                    await asyncio.sleep(0.05)
            assert alive([worker])
            await parent.kill()
            assert not await _until_gone([worker]), "the worker outlived its parent"
        finally:
            _kill_all([worker])
            if writer >= 0:
                os.close(writer)


async def test_the_portable_watch_alone_ends_an_orphan(tmp_path: Path) -> None:
    async with orphan_parent(tmp_path, "watch") as parent:
        guarded = await parent.pid("guarded")
        unguarded = await parent.pid("unguarded")
        try:
            await parent.kill()
            assert not await _until_gone([guarded]), "the watched child outlived its parent"
            assert alive([unguarded]), "control: a child without the watch lives on"
        finally:
            _kill_all([guarded, unguarded])


def _runs_the_inside(p: psutil.Process) -> bool:
    """The sandbox's Python itself (bubblewrap's command line names main.py too)."""
    try:
        return p.name() != "bwrap" and "main.py" in " ".join(p.cmdline())
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("isolation", ["process-limits", "bubblewrap"])
async def test_a_sandboxed_module_dies_with_the_process_running_it(tmp_path: Path, isolation: str) -> None:
    if isolation == "bubblewrap" and not detect().isolation.bubblewrap:
        pytest.skip("bubblewrap does not work here")
    async with orphan_parent(tmp_path, "sandbox", isolation) as parent:
        host = await parent.pid("host")
        deadline = time.monotonic() + 120
        while not any(_runs_the_inside(p) for p in alive(host.children(recursive=True))):
            assert time.monotonic() < deadline, "the sandbox never started"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # well into the module's sleep
        sandbox = host.children(recursive=True)
        try:
            await parent.kill()
            left = await _until_gone(sandbox)
            assert not left, [p.cmdline()[:3] for p in left]
        finally:
            _kill_all(sandbox)
