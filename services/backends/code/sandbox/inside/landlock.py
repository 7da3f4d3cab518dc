"""Landlock through raw syscalls (ctypes): kernel filesystem rules that need no user namespace.

Why raw syscalls: there is no Landlock binding in the standard library, and the ABI is three small
syscalls with fixed numbers on x86_64/aarch64. Rights the kernel does not know (older ABI) are
masked off, so the rules work from ABI 1 up and add TCP and signal scoping where the kernel has them.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct

_SYSCALLS = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# Filesystem rights by bit (ABI 1 has bits 0-12; REFER: ABI 2; TRUNCATE: 3; IOCTL_DEV: 5).
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_BITS_BY_ABI = {1: 13, 2: 14, 3: 15, 4: 15, 5: 16}
_READ = EXECUTE | READ_FILE | READ_DIR


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def abi_version() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is missing or disabled."""
    numbers = _SYSCALLS.get(platform.machine())
    if numbers is None:
        return 0
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(
        ctypes.c_long(numbers[0]), None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION)
    )
    return int(version) if version > 0 else 0


def _fs_mask(abi: int) -> int:
    return (1 << _FS_BITS_BY_ABI.get(abi, 16)) - 1


def restrict(read_dirs: list[str], write_dirs: list[str]) -> int:
    """Allow reading under `read_dirs` and everything under `write_dirs`, nothing else; returns the ABI.

    From ABI 4 TCP bind/connect are denied outright; from ABI 6 signals and abstract unix sockets
    are scoped to this process. Raises OSError when the kernel refuses, so the caller fails closed.
    """
    abi = abi_version()
    if abi < 1:
        raise OSError("Landlock is not available in this kernel")
    create, add_rule, restrict_self = _SYSCALLS[platform.machine()]
    fs = _fs_mask(abi)
    net = 0b11 if abi >= 4 else 0  # BIND_TCP | CONNECT_TCP: handled and never allowed
    scoped = 0b11 if abi >= 6 else 0  # ABSTRACT_UNIX_SOCKET | SIGNAL
    if abi >= 6:
        attr = struct.pack("<QQQ", fs, net, scoped)
    elif abi >= 4:
        attr = struct.pack("<QQ", fs, net)
    else:
        attr = struct.pack("<Q", fs)
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    buf = ctypes.create_string_buffer(attr, len(attr))
    ruleset = libc.syscall(ctypes.c_long(create), buf, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for path, rights in [(p, _READ) for p in read_dirs] + [(p, fs) for p in write_dirs]:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC | os.O_DIRECTORY)
            try:
                rule = ctypes.create_string_buffer(struct.pack("<Qi", rights & fs, fd), 12)
                if (
                    libc.syscall(
                        ctypes.c_long(add_rule),
                        ctypes.c_int(ruleset),
                        ctypes.c_int(_RULE_PATH_BENEATH),
                        rule,
                        ctypes.c_uint32(0),
                    )
                    != 0
                ):
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
        if libc.syscall(ctypes.c_long(restrict_self), ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return abi
