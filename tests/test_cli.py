"""The command line's other commands: `backends`, and starting the bot without a token."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATA_DIR": str(cwd / "data")}
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **(env or {})},
    )


def test_backends_lists_every_backend_with_a_reason(tmp_path: Path) -> None:
    proc = _run("-m", "bot.cli", "backends", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("styles") and "yes" in line and "ready" in line for line in lines)
    for name in ("notes", "riffusion", "code", "musicgen"):
        assert any(line.startswith(name) for line in lines)


def test_the_bot_without_a_token_stops_with_one_clear_line(tmp_path: Path) -> None:
    for args in (("-m", "bot"), ("-m", "bot.cli", "run"), ("-m", "bot.cli", "sync")):
        proc = _run(*args, cwd=tmp_path)
        assert proc.returncode == 2
        assert proc.stderr.strip().count("\n") == 0
        assert "DISCORD_TOKEN is missing" in proc.stderr


def test_a_malformed_setting_is_named_and_the_token_never_echoed(tmp_path: Path) -> None:
    token = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GAbCdE.super-secret-token-value-xyz"
    proc = _run("-m", "bot", cwd=tmp_path, env={"DISCORD_TOKEN": token, "MAX_DURATION_S": "lots"})
    assert proc.returncode == 2
    assert "MAX_DURATION_S" in proc.stderr
    assert token not in proc.stderr + proc.stdout


def test_sandbox_run_reports_layers_and_writes_audio(tmp_path: Path) -> None:
    from services.backends.code.sandbox.isolation import detect

    song = tmp_path / "song.py"
    song.write_text("from soundlib import sine\n\ndef render(sr):\n    return sine(330.0, 1.0, sr) * 0.4\n")
    out = tmp_path / "song.wav"
    proc = _run("-m", "bot.cli", "sandbox", "run", str(song), "-o", str(out), cwd=tmp_path)
    assert f"isolation: {detect().isolation.name}" in proc.stdout
    if detect().isolation.strong:
        assert proc.returncode == 0, proc.stderr
        assert out.read_bytes()[:4] == b"RIFF"
    evil = tmp_path / "evil.py"
    evil.write_text("import os\n\ndef render(sr):\n    return os.environ\n")
    proc = _run("-m", "bot.cli", "sandbox", "run", str(evil), cwd=tmp_path)
    assert "static check" in proc.stdout and "os" in proc.stdout
    assert proc.returncode != 0


def test_make_is_the_operator_and_may_use_the_code_backend(tmp_path: Path) -> None:
    """No server switch applies at the command line (code is off per Discord server, not for the operator)."""
    from services.audio.mp3 import decode_audio
    from services.backends.code.sandbox.isolation import detect
    from tests.fakeopenai import FakeOpenAI, Reply

    if not detect().isolation.strong:
        pytest.skip("this host offers no real sandbox, so the code backend cannot run")
    code = "from soundlib import sine\n\ndef render(sr):\n    return sine(220.0, 2.0, sr) * 0.5\n"
    out = tmp_path / "hum.mp3"
    with FakeOpenAI() as llm:
        llm.script(Reply.json({"title": "Hum", "code": code}))
        proc = _run(
            "-m",
            "bot.cli",
            "make",
            "a low hum",
            "-b",
            "code",
            "-d",
            "2",
            "-o",
            str(out),
            "-q",
            cwd=tmp_path,
            env={"OPENAI_BASE_URL": llm.base_url},
        )
    assert proc.returncode == 0, proc.stderr
    assert abs(decode_audio(out.read_bytes()).duration - 2.0) <= 0.5


@pytest.mark.parametrize(
    ("sig", "code", "said"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "stopped")]
)
def test_make_stops_cleanly_on_ctrl_c_and_sigterm(tmp_path: Path, sig: int, code: int, said: str) -> None:
    out = tmp_path / "piece.mp3"
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "make", "slow ambient drone", "-d", "120", "-o", str(out)],
        cwd=tmp_path,
        env={**base, "EMBEDDINGS_ENABLED": "false"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a CI host may start us with SIGINT ignored (background jobs are); `make` must see Ctrl+C
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "data").exists():  # the engine is open: the job is being made
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and said in stderr
    assert not out.exists()


def test_make_sings_lyrics_from_a_file_and_covers_an_audio_file(tmp_path: Path) -> None:
    pytest.importorskip("diffusers")
    from services.audio.mp3 import decode_audio
    from tests.tiny_models import build_tiny_song_model, wav_bytes

    env = {
        "ACESTEP_MODEL": str(build_tiny_song_model(tmp_path / "tiny")),
        "ACESTEP_STEPS": "2",
        "CORRECT_TO_STATED": "false",  # random weights have no tempo worth correcting
    }
    words = tmp_path / "words.txt"
    words.write_text("[verse]\nthe kettle sings\n[chorus]\nmorning, morning\n", encoding="utf-8")
    out = tmp_path / "song.mp3"
    proc = _run(
        "-m",
        "bot.cli",
        "make",
        "-b",
        "song",
        "kitchen folk, 100 bpm",
        "--lyrics",
        str(words),
        "--timesig",
        "3/4",
        "-d",
        "10",
        "-o",
        str(out),
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert abs(decode_audio(out.read_bytes()).duration - 10) <= 0.5
    assert "the kettle sings" in proc.stdout and "metre 3/4" in proc.stdout and "tempo 100 bpm" in proc.stdout

    upload = tmp_path / "hum.wav"
    upload.write_bytes(wav_bytes(12.0))
    covered = tmp_path / "cover.mp3"
    proc = _run(
        "-m",
        "bot.cli",
        "make",
        "-b",
        "song",
        "--cover",
        str(upload),
        "brass band",
        "-o",
        str(covered),
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert abs(decode_audio(covered.read_bytes()).duration - 12) <= 0.5
    assert "cover of your audio" in proc.stdout

    missing = _run(
        "-m",
        "bot.cli",
        "make",
        "-b",
        "song",
        "--cover",
        str(tmp_path / "nope.mp3"),
        "x",
        cwd=tmp_path,
        env=env,
    )
    assert missing.returncode == 2 and "There is no audio file at" in missing.stderr
    bad = _run("-m", "bot.cli", "make", "-b", "song", "x", "--lyrics", "hi @everyone", cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "can't contain mentions" in bad.stderr
