"""Find the strongest isolation this host really offers, by trying it, once per process.

Why try rather than inspect: bubblewrap may be installed yet blocked (Ubuntu 24.04 restricts user
namespaces by default), Landlock may be compiled in but disabled, libseccomp may be missing. A probe
module runs through each candidate exactly as generated code would; the first that works wins.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from services.backends.code.sandbox.errors import SandboxBroken, SandboxFailure
from services.backends.code.sandbox.layers import Isolation, Limits
from services.backends.code.sandbox.runner import run_module

log = logging.getLogger(__name__)

# Strongest first. The probe also checks a socket really is refused where seccomp is claimed.
CANDIDATES = (
    Isolation(bubblewrap=True, landlock=True, seccomp=True),
    Isolation(bubblewrap=True, seccomp=True),
    Isolation(landlock=True, seccomp=True),
    Isolation(bubblewrap=True, landlock=True),
    Isolation(bubblewrap=True),
    Isolation(landlock=True),
    Isolation(seccomp=True),
    Isolation(),
)

PROBE = """
import socket
import numpy as np
import soundlib

def render(sr):
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        pass
    else:
        sock.close()
        if SECCOMP:
            raise RuntimeError("a socket was allowed")
    return soundlib.sine(440.0, 0.05, sr) * 0.5
"""


@dataclass(frozen=True)
class IsolationReport:
    """The outcome of detection: what will be used and what was tried."""

    isolation: Isolation  # the strongest candidate that worked
    tried: tuple[str, ...]  # "bubblewrap+landlock+seccomp: works" / "…: failed: why"

    @property
    def strong(self) -> bool:
        return self.isolation.strong


def probe(isolation: Isolation) -> str | None:
    """None when `isolation` works here, else why not."""
    source = PROBE.replace("SECCOMP", "True" if isolation.seccomp else "False")
    try:
        run_module(
            source,
            sample_rate=8000,
            max_seconds=1.0,
            isolation=isolation,
            limits=Limits(cpu_s=10, wall_s=20.0),
        )
    except (SandboxBroken, SandboxFailure) as exc:
        return str(exc)
    return None


_lock = threading.Lock()
_cached: IsolationReport | None = None


def detect(*, refresh: bool = False) -> IsolationReport:
    """The strongest working isolation (probed once, then cached; call at start-up from a thread)."""
    global _cached
    with _lock:
        if _cached is not None and not refresh:
            return _cached
        tried: list[str] = []
        chosen = Isolation()
        for candidate in CANDIDATES:
            problem = probe(candidate)
            tried.append(f"{candidate.name}: {'works' if problem is None else 'failed: ' + problem}")
            if problem is None:
                chosen = candidate
                break
        _cached = IsolationReport(chosen, tuple(tried))
        log.info("code sandbox isolation: %s (%s)", chosen.name, "; ".join(tried))
        return _cached
