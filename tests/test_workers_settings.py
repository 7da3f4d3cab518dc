"""Setting up workers: what a mistake in REDIS_URL, REMOTE_BACKENDS or `promptjam worker`'s options says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from services.config import load_settings
from services.logsetup import settings_secrets
from services.redaction import Redactor
from services.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent


def _worker(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATA_DIR": str(cwd / "data")}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "worker", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **env},
    )


def test_a_worker_without_redis_url_says_what_is_missing(tmp_path: Path) -> None:
    proc = _worker("--backends", "styles", cwd=tmp_path, env={})
    assert proc.returncode == 2
    assert "REDIS_URL is missing" in proc.stderr


def test_a_worker_names_a_backend_that_does_not_exist_and_the_one_that_cannot_run_here(
    tmp_path: Path,
) -> None:
    url = {"REDIS_URL": "redis://127.0.0.1:1/0"}
    proc = _worker("--backends", "styles,nope", cwd=tmp_path, env=url)
    assert proc.returncode == 2 and "unknown backend(s) nope" in proc.stderr
    # riffusion without its model files cannot run on this machine: said, and with nothing else left, no start
    missing = {**url, "RIFFUSION_MODEL": str(tmp_path / "no-such-model")}
    proc = _worker("--backends", "riffusion", cwd=tmp_path, env=missing)
    assert proc.returncode == 2
    assert "not serving riffusion" in proc.stderr
    assert "none of this worker's backends can run on this machine" in proc.stderr
    proc = _worker("--backends", "styles", "--concurrency", "0", cwd=tmp_path, env=url)
    assert proc.returncode == 2 and "--concurrency must be between 1 and 64" in proc.stderr


def test_remote_and_worker_backends_must_be_real_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    for setting in ("REMOTE_BACKENDS", "WORKER_BACKENDS"):
        monkeypatch.setenv(setting, "styles,nope")
        with pytest.raises(SettingsError, match=f"{setting} is invalid: unknown backend"):
            load_settings()
        monkeypatch.delenv(setting)
    monkeypatch.setenv("REMOTE_BACKENDS", "riffusion, styles")
    assert load_settings().remote_backends == ("riffusion", "styles")


def test_the_redis_password_never_reaches_a_log() -> None:
    url = "rediss://:hunter2-long-password@redis.example.net:6380/0"
    settings = Settings(_env_file=None, redis_url=url)  # type: ignore[call-arg]
    redact = Redactor(settings_secrets(settings))
    for line in (f"connecting to {url}", "AUTH failed for hunter2-long-password", repr(settings)):
        assert "hunter2-long-password" not in redact(line)
    # and the URL pattern alone catches a password in another Redis URL nobody configured
    assert "s3cret-value" not in Redactor()("redis://:s3cret-value@10.0.0.2:6379")
