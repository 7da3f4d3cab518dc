"""Which isolation layers a run uses, and the limits it runs under (plain data shared by host modules)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Isolation:
    """Layers on top of the always-on ones (fresh process, empty environment, rlimits, wall-clock kill)."""

    bubblewrap: bool = False  # bwrap: new user/net/pid/ipc/uts namespaces and a minimal read-only root
    landlock: bool = False  # Landlock path rules (and TCP/signal scoping on newer kernels)
    seccomp: bool = False  # syscall filter: no sockets, processes, ptrace, io_uring, mounts …

    @property
    def strong(self) -> bool:
        """Filesystem and network walled off by the kernel, and no new processes: safe for strangers' code."""
        return (self.bubblewrap or self.landlock) and self.seccomp

    def describe(self) -> list[str]:
        """Every active layer in words, for `promptjam sandbox run` and `/music backends`."""
        lines = [
            "fresh process, empty environment, no inherited file descriptors, private temp dir",
            "rlimits: CPU seconds, address space, file size, open files, processes; wall-clock kill; nice 19",
        ]
        if self.bubblewrap:
            lines.append(
                "bubblewrap: no network, own PID namespace, minimal read-only root, unprivileged user"
            )
        if self.landlock:
            lines.append("Landlock: reads only the Python runtime and numpy, writes only the work dir")
        if self.seccomp:
            lines.append(
                "seccomp: sockets, new processes, ptrace, io_uring, mounts and signals to others denied"
            )
        return lines

    @property
    def name(self) -> str:
        names = [
            n
            for n, on in (
                ("bubblewrap", self.bubblewrap),
                ("landlock", self.landlock),
                ("seccomp", self.seccomp),
            )
            if on
        ]
        return "+".join(names) or "process limits only"


@dataclass(frozen=True)
class Limits:
    """What one run may use. Exceeding any of them ends the run with a message the model can act on."""

    cpu_s: int = 20  # CPU seconds (RLIMIT_CPU)
    wall_s: float = 30.0  # wall-clock seconds before the whole process group is killed
    memory_bytes: int = 1536 << 20  # address space (RLIMIT_AS); numpy alone maps ~300 MiB of it
    file_bytes: int = 16 << 20  # largest file it may write (RLIMIT_FSIZE)
    work_dir_bytes: int = 32 << 20  # size of the private work dir (tmpfs under bubblewrap)
    open_files: int = 64  # RLIMIT_NOFILE
    processes: int = 32  # RLIMIT_NPROC (threads count; does not bind root: seccomp is what stops forks)
    stderr_bytes: int = 64 << 10  # diagnostics kept from the sandbox's stderr
