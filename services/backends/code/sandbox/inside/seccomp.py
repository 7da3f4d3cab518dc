"""A seccomp filter through libseccomp (ctypes): deny sockets, new processes, ptrace, io_uring, mounts …

Why libseccomp rather than hand-written BPF: it emits the architecture check (a syscall made through
another ABI, such as x32 or int 0x80, is killed, not matched against the wrong numbers) and
resolves syscall names per architecture; a hand-written filter gets both wrong easily. Why a deny
list rather than an allow list: CPython and numpy use a long, version-dependent set of syscalls,
and an allow list that kills a rare one would break music, not attackers. Threads stay possible
(clone with CLONE_THREAD); processes do not, which is what stops fork bombs when RLIMIT_NPROC
does not bind (root).
"""

from __future__ import annotations

import ctypes
import errno
import os

_ACT_ALLOW = 0x7FFF0000
_CMP_NE, _CMP_MASKED_EQ = 1, 7
_CLONE_THREAD = 0x00010000

DENIED = (
    # network
    "socket",
    "socketpair",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    # new processes and programs
    "fork",
    "vfork",
    "execve",
    "execveat",
    # other processes
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_open",
    "pidfd_getfd",
    "pidfd_send_signal",
    "tkill",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "kcmp",
    # kernel attack surface
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "modify_ldt",
    "uselib",
    "personality",
    "iopl",
    "ioperm",
    "syslog",
    "acct",
    "quotactl",
    "fanotify_init",
    "open_by_handle_at",
    "name_to_handle_at",
    "lookup_dcookie",
    "vhangup",
    "reboot",
    "swapon",
    "swapoff",
    "mknod",
    "mknodat",
    "memfd_create",
    # namespaces and mounts
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
)


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


def install(library: str) -> int:
    """Load the filter into this process (and its threads to come); returns how many rules it has.

    Raises OSError when the library or the kernel refuses, so the caller fails closed.
    """
    lib = ctypes.CDLL(library, use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.restype = ctypes.c_int
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(_ACT_ALLOW)
    if not ctx:
        raise OSError("seccomp_init failed")
    rules = 0
    me = os.getpid()

    def add(name: str, action: int, *conditions: tuple[int, int, int, int]) -> None:
        nonlocal rules
        number = lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:
            return  # not a syscall on this architecture
        array = (_ArgCmp * max(1, len(conditions)))(*[_ArgCmp(*c) for c in conditions])
        result = lib.seccomp_rule_add_array(ctx, action, number, len(conditions), array)
        if result != 0:
            raise OSError(-result, f"seccomp rule for {name} refused")
        rules += 1

    try:
        for name in DENIED:
            add(name, _errno_action(errno.EPERM))
        # clone3 hides its flags in memory a filter cannot read: ENOSYS makes glibc fall back to clone.
        add("clone3", _errno_action(errno.ENOSYS))
        # clone: threads (CLONE_THREAD set) are allowed, new processes are not.
        add("clone", _errno_action(errno.EPERM), (0, _CMP_MASKED_EQ, _CLONE_THREAD, 0))
        # signals only to ourselves (pid namespaces are not always there to hide the parent).
        add("kill", _errno_action(errno.EPERM), (0, _CMP_NE, me, 0))
        add("tgkill", _errno_action(errno.EPERM), (0, _CMP_NE, me, 0))
        if lib.seccomp_load(ctx) != 0:
            raise OSError("seccomp_load failed")
    finally:
        lib.seccomp_release(ctx)
    return rules
