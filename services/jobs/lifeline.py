"""Worker processes die with the process that started them, and leave stopping to it.

Why: a bot killed with SIGKILL (the OOM killer, `docker kill`, a crash) runs no cleanup, and its
workers would go on rendering jobs nobody will collect, holding CPU and memory. Two mechanisms,
because neither covers every case alone:
- Linux: prctl(PR_SET_PDEATHSIG, SIGKILL): the kernel kills the worker the moment its parent dies,
  even in the middle of a render. It fires when the *thread* that started the worker ends, so
  workers are started from the event loop's thread, which lives as long as the process.
- everywhere: a daemon thread that waits on multiprocessing's parent sentinel (or, failing that,
  polls the parent pid) and ends the process once the parent is gone.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

PR_SET_PDEATHSIG = 1
ORPHANED_EXIT = 70  # exit status of a worker that outlived its parent


def _exit_now() -> None:
    os._exit(ORPHANED_EXIT)  # no cleanup: the parent that would want the results is gone


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send `sig` to this process when its parent dies. False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def watch_parent(
    parent_pid: int, *, on_orphaned: Callable[[], None] = _exit_now, poll_s: float = 0.5
) -> threading.Thread:
    """A daemon thread that calls `on_orphaned` (default: exit at once) when the parent goes away."""

    def watch() -> None:
        parent = multiprocessing.parent_process()
        sentinel = getattr(parent, "sentinel", None) if parent is not None else None
        if parent is not None and parent.pid == parent_pid and sentinel is not None:
            # Readable (EOF) once the parent has exited: its end of the spawn pipe closes with it.
            multiprocessing.connection.wait([sentinel])
        else:
            while os.getppid() == parent_pid:
                time.sleep(poll_s)
        on_orphaned()

    thread = threading.Thread(target=watch, name="promptjam-parent-watch", daemon=True)
    thread.start()
    return thread


def die_with_parent(parent_pid: int) -> None:
    """Call first thing in a worker process: it ends when `parent_pid` does, whatever it is doing."""
    set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the kernel was asked to tell us
        _exit_now()
    watch_parent(parent_pid)


def leave_signals_to_parent() -> None:
    """Ignore SIGINT: a Ctrl+C in a terminal reaches the whole process group, and a worker that died
    of it would fail its job instead of letting the parent's clean shutdown re-queue it. The parent
    stops its workers itself. SIGTERM keeps its default: multiprocessing ends leftover workers with
    it at exit (a service manager signalling the whole group is handled by the job service)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
