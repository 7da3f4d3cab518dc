"""Drop every capability, for when the sandbox runs as root without a user namespace (Landlock mode).

Why: root with capabilities could undo the other layers (mount, ptrace, raw I/O). Without them,
only Landlock's path rules and the file modes stand between the code and root-owned files.
"""

from __future__ import annotations

import ctypes
import struct

_PR_CAPBSET_DROP = 24
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_CAP_VERSION_3 = 0x20080522
_LAST_CAP = 63


def drop_all() -> None:
    """Clear the bounding, ambient, effective, permitted and inheritable sets; raise OSError if refused."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(_LAST_CAP + 1):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the kernel's last capability: fine
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = ctypes.create_string_buffer(struct.pack("<Ii", _CAP_VERSION_3, 0), 8)
    data = ctypes.create_string_buffer(bytes(24), 24)
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")
