"""The host's Landlock ABI, asked of the kernel without restricting anything (one harmless syscall)."""

from __future__ import annotations

import functools


@functools.cache
def landlock_abi() -> int:
    """0 when Landlock is missing or disabled."""
    from services.backends.code.sandbox.inside.landlock import abi_version

    return abi_version()
