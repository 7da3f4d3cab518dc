"""The host side of a sandbox run: start a fresh confined process, collect its pipe, validate the audio.

Why a fresh process (`subprocess`, which execs a new interpreter) and never a fork of the bot: a
fork would inherit the bot's memory (its token, its keys), its threads' locks and its open sockets.
The process gets an empty environment (bubblewrap too: its own PID 1 keeps the environment it was
started with, and /proc/1/environ would show it), no file descriptors but its three standard ones,
and a private temp dir. Its result comes back over stdout, a pipe, so the host never opens a path
the sandbox could have replaced with a symlink; the bytes are size-capped while they are read.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.audio.types import Audio
from services.backends.code.sandbox.errors import BadAudio, CodeRaised, OverLimit, SandboxBroken
from services.backends.code.sandbox.layers import Isolation, Limits

INSIDE = Path(__file__).resolve().parent / "inside"
SOUNDLIB = Path(__file__).resolve().parent.parent / "soundlib.py"
CONFINE_FAILED = 3  # the inside's exit status when a requested layer could not be applied
_HEADER = struct.Struct("<IIQ")  # channels, sample rate, frames
PEAK_REFUSED = 1e6  # a peak this large is broken maths, not loud music
SILENCE = 1e-5  # a peak below this is silence


@dataclass(frozen=True)
class SandboxRun:
    """A successful run: the validated audio and what was true while it ran."""

    audio: Audio  # float32 (channels, frames), finite, peak ≤ 1
    isolation: Isolation  # the layers that were applied (each one fails closed)
    wall_s: float  # seconds from start to exit, for benchmarks and logs
    scaled_by: float  # 1.0, or the factor the audio was scaled by because it clipped


def _python() -> tuple[str, str]:
    """The real interpreter (venv links resolved) and the prefix its standard library lives under."""
    return os.path.realpath(sys.executable), os.path.realpath(sys.base_prefix)


def _numpy_dirs() -> list[Path]:
    package = Path(np.__file__).resolve().parent
    return [p for p in (package, package.parent / "numpy.libs") if p.is_dir()]


def seccomp_library() -> str | None:
    """libseccomp's absolute path (the sandbox has no ld.so.cache to search), or None."""
    for base in ("/usr/lib", "/usr/lib64", "/lib", "/lib64"):
        root = Path(base)
        if not root.is_dir():
            continue
        for candidate in [root / "libseccomp.so.2", *sorted(root.glob("*/libseccomp.so.2"))]:
            if candidate.exists():
                return str(candidate.resolve())
    return None


def _rlimits(limits: Limits) -> dict[str, int]:
    return {
        "cpu_s": limits.cpu_s,
        "memory": limits.memory_bytes,
        "file": limits.file_bytes,
        "nofile": limits.open_files,
        "nproc": limits.processes,
    }


def _bwrap_argv(work: Path, limits: Limits) -> list[str]:
    """bubblewrap with every namespace new, an unprivileged uid and only what Python and numpy need."""
    bwrap = shutil.which("bwrap", path="/usr/bin:/bin:/usr/local/bin")
    if bwrap is None:
        raise SandboxBroken("bubblewrap (bwrap) is not installed")
    python, prefix = _python()
    argv = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--uid",
        "65534",
        "--gid",
        "65534",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--cap-drop",
        "ALL",
        "--hostname",
        "sandbox",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for top in ("/lib", "/lib64", "/bin"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    if not prefix.startswith("/usr/"):
        argv += ["--ro-bind", prefix, prefix]
    if not python.startswith(("/usr/", prefix + "/")):
        argv += ["--ro-bind", python, python]
    for directory in _numpy_dirs():
        argv += ["--ro-bind", str(directory), f"/sandbox/site/{directory.name}"]
    argv += [
        "--ro-bind",
        str(INSIDE),
        "/sandbox/inside",
        "--ro-bind",
        str(SOUNDLIB),
        "/sandbox/lib/soundlib.py",
        "--ro-bind",
        str(work / "song.py"),
        "/code/song.py",
        "--size",
        str(limits.work_dir_bytes),
        "--tmpfs",
        "/work",
        "--size",
        str(1 << 20),
        "--tmpfs",
        "/tmp",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--chdir",
        "/work",
        "--",
    ]
    return argv


def _config(
    isolation: Isolation, work: Path, sample_rate: int, max_frames: int, limits: Limits
) -> dict[str, object]:
    """What the inside needs, with paths as they look from inside."""
    _, prefix = _python()
    if isolation.bubblewrap:
        paths = ["/sandbox/site", "/sandbox/lib"]
        module = "/code/song.py"
        read = ["/usr", "/sandbox", "/code"] + ([] if prefix.startswith("/usr/") else [prefix])
        write = ["/work", "/tmp"]
    else:
        paths = [str(_numpy_dirs()[0].parent), str(SOUNDLIB.parent)]
        module = str(work / "song.py")
        read = ["/usr", prefix, str(INSIDE), *(str(d) for d in _numpy_dirs())]
        read += [d for d in ("/lib", "/lib64") if os.path.isdir(d) and not os.path.islink(d)]
        write = [str(work)]
    library = seccomp_library() if isolation.seccomp else None
    if isolation.seccomp and library is None:
        raise SandboxBroken("seccomp was requested but libseccomp.so.2 is not installed")
    return {
        "module": module,
        "sample_rate": sample_rate,
        "max_frames": max_frames,
        "paths": paths,
        "rlimits": _rlimits(limits),
        "landlock": {"read": read, "write": write} if isolation.landlock else None,
        "seccomp": library,
        # The inside's parent is us, except under bubblewrap (its own pid namespace; --die-with-parent).
        "host_pid": None if isolation.bubblewrap else os.getpid(),
    }


def run_module(
    source: str,
    *,
    sample_rate: int,
    max_seconds: float,
    isolation: Isolation,
    limits: Limits | None = None,
) -> SandboxRun:
    """Run `source`'s render(sample_rate) under `isolation`; the audio, or a SandboxFailure saying why not.

    Raises CodeRaised (its traceback), OverLimit (time, CPU, memory, output size), BadAudio (NaN,
    too long, silent …) — all for the model to fix — or SandboxBroken when the host cannot confine.
    """
    limits = limits or Limits()
    max_frames = int(max_seconds * sample_rate)
    work = Path(tempfile.mkdtemp(prefix="promptjam-code-"))
    try:
        (work / "song.py").write_text(source, encoding="utf-8")
        config = _config(isolation, work, sample_rate, max_frames, limits)
        python, _ = _python()
        inside = "/sandbox/inside/main.py" if isolation.bubblewrap else str(INSIDE / "main.py")
        argv = (_bwrap_argv(work, limits) if isolation.bubblewrap else []) + [
            python,
            "-I",
            "-S",
            "-B",
            inside,
            json.dumps(config),
        ]
        started = time.monotonic()
        out, err, status = _execute(argv, work, limits, cap=16 + _HEADER.size + 2 * 4 * max_frames)
        wall = time.monotonic() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)
    audio, scale = _interpret(out, err, status, limits, sample_rate, max_frames)
    return SandboxRun(audio=audio, isolation=isolation, wall_s=wall, scaled_by=scale)


@dataclass(frozen=True)
class _Exit:
    code: int | None  # return code (negative: killed by that signal)
    timed_out: bool  # we killed it at the wall-clock limit
    overflow: bool  # we killed it for sending more than the cap


def _execute(argv: list[str], work: Path, limits: Limits, cap: int) -> tuple[bytes, bytes, _Exit]:
    """Start the process, read stdout (capped) and stderr (tail kept) until exit or the wall-clock limit."""
    try:
        proc = subprocess.Popen(
            argv,
            env={},
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            close_fds=True,
            start_new_session=True,
        )
    except OSError as exc:
        raise SandboxBroken(f"could not start the sandbox: {exc}") from None
    assert proc.stdout is not None and proc.stderr is not None
    out, err = bytearray(), bytearray()
    timed_out = overflow = False
    deadline = time.monotonic() + limits.wall_s
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ, out)
        selector.register(proc.stderr, selectors.EVENT_READ, err)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                key.data.extend(chunk)
                if len(err) > limits.stderr_bytes:
                    del err[: len(err) - limits.stderr_bytes]
            if len(out) > cap:
                overflow = True
                break
    code: int | None = None
    if not (timed_out or overflow):
        try:
            code = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True  # closed its pipes but kept running
    _kill_group(proc)
    if code is None:
        code = proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    return bytes(out), bytes(err), _Exit(code, timed_out, overflow)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the whole process group (bubblewrap's children die with it: --die-with-parent)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _interpret(
    out: bytes, err: bytes, status: _Exit, limits: Limits, sample_rate: int, max_frames: int
) -> tuple[Audio, float]:
    if status.timed_out:
        raise OverLimit(f"the code ran longer than {limits.wall_s:g} s and was stopped")
    if status.overflow:
        raise OverLimit(
            f"the code sent back more than {max_frames / sample_rate:g} s of audio and was stopped"
        )
    if status.code == CONFINE_FAILED and not out:
        raise SandboxBroken("the sandbox could not confine itself: " + _tail(err))
    if out.startswith(b"PJE1") and len(out) >= 8:
        (length,) = struct.unpack_from("<I", out, 4)
        text = out[8 : 8 + min(length, 16_000)].decode("utf-8", "replace")
        if "MemoryError" in text:
            raise OverLimit(f"the code ran out of memory (limit {limits.memory_bytes >> 20} MiB)", text)
        raise CodeRaised(text)
    if status.code is not None and status.code < 0:
        sig = -status.code
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            raise OverLimit(f"the code used more than {limits.cpu_s} s of CPU time and was stopped")
        if sig == signal.SIGXFSZ:
            raise OverLimit(f"the code wrote a file larger than {limits.file_bytes >> 20} MiB")
        raise CodeRaised(f"the code crashed the interpreter (signal {signal.Signals(sig).name})")
    if status.code != 0 and not out:
        if b"bwrap:" in err:
            raise SandboxBroken("bubblewrap refused to start: " + _tail(err))
        raise CodeRaised(f"the code exited early (status {status.code}) without returning audio")
    return decode_audio(out, sample_rate, max_frames)


def _tail(err: bytes, limit: int = 400) -> str:
    text = " ".join(err.decode("utf-8", "replace").split())
    return text[-limit:] or "no details"


def decode_audio(data: bytes, sample_rate: int, max_frames: int) -> tuple[Audio, float]:
    """Parse and validate the audio record: header, exact length, finite, not silent; scaled if it clips."""
    if not data.startswith(b"PJA1") or len(data) < 4 + _HEADER.size:
        raise BadAudio("render() returned nothing the sandbox could send back")
    channels, rate, frames = _HEADER.unpack_from(data, 4)
    if channels not in (1, 2):
        raise BadAudio(f"render() returned {channels} channels; use mono (frames,) or stereo (2, frames)")
    if rate != sample_rate:
        raise BadAudio(f"the audio claims {rate} Hz; it must be rendered at sr={sample_rate}")
    if frames == 0:
        raise BadAudio("render() returned an empty array")
    if frames > max_frames:
        raise BadAudio(
            f"render() returned {frames / sample_rate:.1f} s; at most {max_frames / sample_rate:g} s"
        )
    payload = data[4 + _HEADER.size :]
    if len(payload) != channels * frames * 4:
        raise BadAudio("the audio's length does not match its header")
    samples = np.frombuffer(payload, dtype="<f4").astype(np.float32).reshape(channels, frames)
    if not np.all(np.isfinite(samples)):
        raise BadAudio("render() returned NaN or infinite samples")
    peak = float(np.max(np.abs(samples)))
    if peak < SILENCE:
        raise BadAudio("render() returned silence")
    if peak > PEAK_REFUSED:
        raise BadAudio(f"render() returned samples as large as {peak:.3g}; keep them within -1..1")
    scale = 1.0
    if peak > 1.0:
        scale = 0.99 / peak
        samples = (samples * scale).astype(np.float32)
    return Audio(np.ascontiguousarray(samples), sample_rate), scale
