"""Finding ffmpeg, pointing pydub at it, and running it without a shell.

Hosts often have no system ffmpeg; the imageio-ffmpeg wheel ships a static build (but no ffprobe), so that is
the fallback. Everything here is blocking: callers run it in a worker.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import threading
import warnings
from typing import Any


class FfmpegNotFoundError(RuntimeError):
    """Neither a PATH ffmpeg nor the imageio-ffmpeg one is usable."""


class FfmpegError(RuntimeError):
    """ffmpeg ran and failed (bad input, unsupported option, time limit)."""


_pydub_lock = threading.Lock()
_pydub_configured = False


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: PATH first (the admin's choice), else the one bundled in imageio-ffmpeg."""
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise FfmpegNotFoundError(
            "ffmpeg not found: put one on PATH (apt-get install ffmpeg) or `pip install imageio-ffmpeg`"
        ) from exc
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as exc:  # the wheel has no binary for this platform
        raise FfmpegNotFoundError(f"ffmpeg not found on PATH and imageio-ffmpeg has none: {exc}") from exc


def audio_segment_class() -> Any:
    """pydub's AudioSegment, configured once to use `ffmpeg_exe()`.

    Imported lazily, with its import-time warnings silenced: "no ffmpeg on PATH" is expected here, and
    "audioop is deprecated" is pydub's to fix (Python 3.13 needs the audioop-lts package).
    """
    global _pydub_configured
    with _pydub_lock:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Couldn't find ffmpeg", category=RuntimeWarning)
            warnings.filterwarnings("ignore", message=".*audioop", category=DeprecationWarning)
            from pydub import AudioSegment
        if not _pydub_configured:
            exe = ffmpeg_exe()
            AudioSegment.converter = exe
            AudioSegment.ffmpeg = exe
            _pydub_configured = True
    return AudioSegment


def run_ffmpeg(args: list[str], *, stdin: bytes | None = None, timeout_s: float = 120.0) -> bytes:
    """Run ffmpeg with `args` (no shell), feed `stdin`, return stdout; raise FfmpegError on failure."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-y", "-loglevel", "error"]
    if stdin is None:
        cmd.append("-nostdin")  # never let ffmpeg wait on the worker's terminal
    cmd += args
    try:
        proc = subprocess.run(
            cmd,
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise FfmpegError(f"ffmpeg took longer than {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise FfmpegError(f"ffmpeg failed (exit {proc.returncode}): {' | '.join(detail[-3:]) or 'no output'}")
    return proc.stdout
