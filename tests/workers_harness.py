"""Helpers for tests of workers on other machines: a real redis-server, real `promptjam worker` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class WorkerProcess:
    """One `promptjam worker` in a process of its own, logging to DATA_DIR/worker.log (tests and bench)."""

    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def name(self) -> str:
        """Its DATA_DIR's name, for messages."""
        return self.log_path.parent.name

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = "\n".join(self.log().splitlines()[-30:])
            raise AssertionError(f"worker {self.name} exited with {self.process.returncode}:\n{tail}")

    def wait_log(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            self.check_alive()
            time.sleep(0.05)
        raise AssertionError(f"worker never logged {text!r}:\n{self.log()}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def start_worker(
    redis_url: str,
    data_dir: Path,
    *,
    backends: str = "sine",
    concurrency: int = 1,
    step_s: float = 0.0,
    steps: int = 1,
    claim_timeout_s: float = 3.0,
    extra_env: dict[str, str] | None = None,
) -> WorkerProcess:
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATA_DIR": str(data_dir),
        "WORKER_CLAIM_TIMEOUT_S": str(claim_timeout_s),
        "WORKER_MODE": "thread",
        "LOG_LEVEL": "INFO",
        "SINE_STEP_S": str(step_s),
        "SINE_STEPS": str(steps),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    log_path = data_dir / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.worker_process",
                "--backends",
                backends,
                "--concurrency",
                str(concurrency),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return WorkerProcess(process, log_path)
