"""The sandbox's entry point: confine this fresh process, then run the untrusted module's `render(sr)`.

Runs as `python -I -S -B main.py CONFIG_JSON`. Everything before `_run_untrusted` is trusted and
fails closed: if a layer the host asked for cannot be applied, it exits with CONFINE_FAILED before a
line of untrusted code is read. Afterwards nothing here is trusted any more (the module runs in
this same process and could tamper with it), so the host validates every byte it gets back.

The result goes to the original stdout, a pipe: b"PJA1" + channels, sample rate, frames + raw
float32, or b"PJE1" + length + a traceback. Anything the module prints goes to /dev/null.
"""

from __future__ import annotations

import json
import os
import resource
import struct
import sys
import traceback
from typing import Any

CONFINE_FAILED = 3
_PR_SET_PDEATHSIG, _SIGKILL = 1, 9
MAX_TRACEBACK = 6_000  # characters of traceback sent back


def _limits(config: dict[str, int]) -> None:
    """Resource limits; hard limits too, so the module cannot raise them again."""
    cpu = config["cpu_s"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU at the soft limit, SIGKILL after
    resource.setrlimit(resource.RLIMIT_AS, (config["memory"], config["memory"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (config["file"], config["file"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (config["nofile"], config["nofile"]))
    resource.setrlimit(resource.RLIMIT_NPROC, (config["nproc"], config["nproc"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _lowest_priority() -> None:
    """nice 19 and the autogroup niced too: without both, a busy render starves the bot's event loop."""
    os.nice(19)
    try:
        with open("/proc/self/autogroup", "w") as handle:
            handle.write("19")
    except OSError:
        pass  # no autogroup (kernel option) or no /proc: nice alone still applies


def _die_with_host(host_pid: int | None) -> None:
    """SIGKILL this process when the one that started it dies: nobody would enforce the wall-clock
    limit any more (a sleeping module uses no CPU, so RLIMIT_CPU would never end it). Under
    bubblewrap, --die-with-parent does the same for the whole sandbox; this covers the other modes."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_PDEATHSIG failed")
    if host_pid is not None and os.getppid() != host_pid:
        raise RuntimeError("the host process is already gone")


def _confine(config: dict[str, Any]) -> None:
    _die_with_host(config.get("host_pid"))
    sys.path[:0] = config["paths"]
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"  # one thread: numpy must not spawn a pool that outgrows the limits
    _limits(config["rlimits"])
    _lowest_priority()
    import numpy  # noqa: F401  (preloaded while the filesystem is still open to us)
    import soundlib  # noqa: F401

    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.append(here)
    if os.geteuid() == 0:
        import privileges

        privileges.drop_all()
    if config.get("landlock"):
        import landlock

        landlock.restrict(config["landlock"]["read"], config["landlock"]["write"])
    if config.get("seccomp"):
        import seccomp

        seccomp.install(config["seccomp"])


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _error_record(exc: BaseException) -> bytes:
    """The traceback as the model should see it: only frames of its own module, then the error."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if os.path.basename(f.filename) in ("song.py", "soundlib.py")
    ]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    text = "Traceback (most recent call last):\n" + "".join(lines)
    if len(text) > MAX_TRACEBACK:
        text = text[:1000] + "\n[…]\n" + text[-(MAX_TRACEBACK - 1000) :]
    data = text.encode("utf-8", "replace")
    return b"PJE1" + struct.pack("<I", len(data)) + data


def _run_untrusted(config: dict[str, Any], out: int) -> None:
    import numpy as np

    with open(config["module"], encoding="utf-8") as handle:
        source = handle.read()
    namespace: dict[str, Any] = {"__name__": "song"}
    try:
        exec(compile(source, "song.py", "exec"), namespace)
        render = namespace.get("render")
        if not callable(render):
            raise NameError("the module defines no function render(sr)")
        sr = int(config["sample_rate"])
        result = render(sr)
        array = np.asarray(result)
        if array.size > config["max_frames"] * 2:
            raise ValueError(
                f"render returned {array.size:,} samples; at most {config['max_frames']:,} a channel"
            )
        array = np.asarray(array, dtype="<f4")
        if array.ndim == 2 and array.shape[0] > 2 and array.shape[1] <= 2:
            array = array.T  # (frames, channels) → (channels, frames)
        if array.ndim == 1:
            array = array[np.newaxis, :]
        if array.ndim != 2 or array.shape[0] not in (1, 2):
            raise ValueError(f"render must return (frames,) or (2, frames) samples, got shape {array.shape}")
        payload = np.ascontiguousarray(array).tobytes()
        record = b"PJA1" + struct.pack("<IIQ", array.shape[0], sr, array.shape[1])
    except BaseException as exc:  # the model's bug, any kind: report it, never crash silently
        _write_all(out, _error_record(exc))
        return
    _write_all(out, record)
    _write_all(out, payload)


def main() -> int:
    config = json.loads(sys.argv[1])
    out = os.dup(1)
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)  # prints from the module are discarded
    try:
        _confine(config)
    except BaseException as exc:
        print(f"sandbox: confinement failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return CONFINE_FAILED
    os.dup2(quiet, 2)
    os.closerange(3, out)
    os.closerange(out + 1, 1 << 16)
    _run_untrusted(config, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
