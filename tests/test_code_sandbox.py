# ruff: noqa: E501  (the attack table keeps one hostile module per line)
"""Every sandbox layer on its own, then hostile modules through the full sandbox (no static checks).

Hostile code reports what it found by raising: "FOUND: …" means the attack worked, "BLOCKED: …"
means it did not. Tests look at the traceback the host gets back, never at timing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from services.backends.code.sandbox.errors import BadAudio, CodeRaised, OverLimit, SandboxFailure
from services.backends.code.sandbox.isolation import detect
from services.backends.code.sandbox.landlock_probe import landlock_abi
from services.backends.code.sandbox.layers import Isolation, Limits
from services.backends.code.sandbox.runner import run_module, seccomp_library

BWRAP = Isolation(bubblewrap=True)
LANDLOCK = Isolation(landlock=True)
SECCOMP = Isolation(seccomp=True)
NOTHING = Isolation()
FULL = Isolation(bubblewrap=True, landlock=True, seccomp=True)
SR = 8000

needs_bwrap = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap not installed")
needs_landlock = pytest.mark.skipif(landlock_abi() < 1, reason="no Landlock in this kernel")
needs_seccomp = pytest.mark.skipif(seccomp_library() is None, reason="libseccomp not installed")

OK_TAIL = "\n    return np.sin(np.arange(800) * 0.1) * 0.5\n"


def hostile(body: str) -> str:
    """A module whose render(sr) runs `body` (indented) and then returns a short tone."""
    return (
        "import numpy as np\n\ndef render(sr):\n" + textwrap.indent(textwrap.dedent(body), "    ") + OK_TAIL
    )


def run(source: str, isolation: Isolation, limits: Limits | None = None) -> str:
    """Run and return the traceback text it raised (the attack's report); fails if it returned audio."""
    with pytest.raises(SandboxFailure) as caught:
        run_module(
            source,
            sample_rate=SR,
            max_seconds=5.0,
            isolation=isolation,
            limits=limits or Limits(cpu_s=5, wall_s=20.0),
        )
    return caught.value.for_model


def report(body: str, isolation: Isolation) -> str:
    text = run(hostile(body), isolation)
    assert "FOUND" not in text, text
    return text


# --- layer 1: fresh process, empty environment ---------------------------------------------------

ENV_ATTACK = """
import os
found = [k for k in os.environ if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")]
blobs = {}
for path in ("/proc/self/environ", "/proc/1/environ", f"/proc/{os.getppid()}/environ"):
    try:
        with open(path, "rb") as handle:
            blobs[path] = handle.read().decode("latin-1")
    except OSError as exc:
        blobs[path] = "unreadable " + type(exc).__name__
try:
    fds = sorted(os.listdir("/proc/self/fd"))
except OSError:
    fds = ["unlistable"]
raise RuntimeError("REPORT " + repr((found, blobs, fds)))
"""

CHILD = """
import json, sys
from services.backends.code.sandbox.layers import Isolation
from services.backends.code.sandbox.runner import run_module
from services.backends.code.sandbox.errors import SandboxFailure
out = {}
for name, iso in [("nothing", Isolation()), ("bwrap", Isolation(bubblewrap=True)),
                  ("landlock", Isolation(landlock=True))]:
    try:
        run_module(sys.argv[1], sample_rate=8000, max_seconds=1.0, isolation=iso)
        out[name] = "audio"
    except SandboxFailure as exc:
        out[name] = exc.for_model
print(json.dumps(out))
"""


@needs_bwrap
@needs_landlock
def test_environment_is_empty_and_secrets_stay_in_the_parent() -> None:
    """The bot's secrets are in its startup environment; the sandbox sees none of them, in any layer."""
    secret = "discord-token-c7-s3cr3t"
    env = {"PATH": "/usr/bin:/bin", "DISCORD_TOKEN": secret, "OPENAI_API_KEY": secret + "-openai"}
    source = hostile(ENV_ATTACK)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, source],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=120,
        check=True,
    )
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("nothing", "bwrap", "landlock"):
        assert "REPORT" in results[name], results[name]
        assert secret not in results[name], f"{name}: {results[name]}"
        assert "DISCORD" not in results[name] and "OPENAI" not in results[name]
        # Only what the sandbox itself sets: bubblewrap's PWD and Python's C-locale coercion.
        names = results[name].split("REPORT ([", 1)[1].split("]", 1)[0]
        assert set(names.replace("'", "").replace(" ", "").split(",")) <= {"", "PWD", "LC_CTYPE"}, names
    # Only the standard three descriptors and the result pipe are open (plus the listing's own fd).
    assert "['0', '1', '2', '3', '4']" in results["nothing"] or "['0', '1', '2', '3']" in results["nothing"]
    # bubblewrap's own PID 1 was started with an empty environment too.
    assert "'/proc/1/environ': ''" in results["bwrap"]


# --- layer 2: resource limits and the wall-clock kill ---------------------------------------------


def test_memory_bomb_is_stopped_by_the_address_space_limit() -> None:
    with pytest.raises(OverLimit, match="out of memory"):
        run_module(
            hostile("hog = [bytearray(64 << 20) for _ in range(1000)]"),
            sample_rate=SR,
            max_seconds=1.0,
            isolation=NOTHING,
            limits=Limits(memory_bytes=768 << 20),
        )


def test_cpu_loop_is_stopped_by_the_cpu_limit() -> None:
    with pytest.raises(OverLimit, match="CPU time|longer than"):
        run_module(
            hostile("while True:\n    pass"),
            sample_rate=SR,
            max_seconds=1.0,
            isolation=NOTHING,
            limits=Limits(cpu_s=1, wall_s=30.0),
        )


def test_sleeping_code_is_killed_at_the_wall_clock_limit() -> None:
    with pytest.raises(OverLimit, match="longer than 1.5 s"):
        run_module(
            hostile("import time\ntime.sleep(60)"),
            sample_rate=SR,
            max_seconds=1.0,
            isolation=NOTHING,
            limits=Limits(cpu_s=30, wall_s=1.5),
        )


def test_big_files_are_stopped_by_the_file_size_limit() -> None:
    text = run(
        hostile("""
        with open("big.bin", "wb") as handle:
            handle.write(b"x" * (4 << 20))
        raise RuntimeError("FOUND: wrote 4 MiB")
    """),
        NOTHING,
        Limits(file_bytes=1 << 20, cpu_s=5, wall_s=20.0),
    )
    assert "File too large" in text


def test_runs_at_the_lowest_priority() -> None:
    text = report("import os\nraise RuntimeError(f'BLOCKED nice={os.nice(0)}')", NOTHING)
    assert "nice=19" in text


# --- layer 3a: bubblewrap on its own --------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    """A loopback TCP server; the list collects every connection that arrives."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    arrived: list[str] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, addr = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            arrived.append(str(addr))
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], arrived
    stop.set()
    thread.join(2)
    server.close()


CONNECT = """
import socket
try:
    conn = socket.create_connection(("127.0.0.1", {port}), timeout=2)
except OSError as exc:
    raise RuntimeError(f"BLOCKED: {{exc}}")
raise RuntimeError("FOUND: connected")
"""

URLLIB = """
import urllib.request
try:
    urllib.request.urlopen("http://127.0.0.1:{port}/", timeout=2)
except Exception as exc:
    raise RuntimeError(f"BLOCKED: {{exc}}")
raise RuntimeError("FOUND: fetched")
"""


@needs_bwrap
def test_bubblewrap_alone_has_no_network(listener: tuple[int, list[str]]) -> None:
    port, arrived = listener
    report(CONNECT.format(port=port), BWRAP)
    assert arrived == []


@needs_bwrap
def test_bubblewrap_alone_hides_the_host_filesystem(tmp_path: Path) -> None:
    secret = tmp_path / ".env"
    secret.write_text("DISCORD_TOKEN=hidden")
    text = report(
        f"""
        import os
        seen = []
        for path in ("/etc/shadow", "{secret}", "/root/.ssh/id_rsa", "/work/main/.env", "/etc/passwd"):
            try:
                with open(path) as handle:
                    raise RuntimeError("FOUND: " + path + handle.read())
            except OSError as exc:
                seen.append(type(exc).__name__)
        try:
            with open("{tmp_path}/planted", "w") as handle:
                handle.write("x")
            seen.append("wrote")
        except OSError as exc:
            seen.append(type(exc).__name__)
        raise RuntimeError("BLOCKED " + repr(seen) + repr(sorted(os.listdir("/"))) + str(os.getuid()))
    """,
        BWRAP,
    )
    assert "FileNotFoundError" in text and "65534" in text
    assert not (tmp_path / "planted").exists()


@needs_bwrap
def test_bubblewrap_alone_hides_the_parent_from_signals() -> None:
    text = report(
        """
        import os, signal
        try:
            os.kill(os.getppid(), signal.SIGKILL)
        except OSError as exc:
            raise RuntimeError(f"BLOCKED: {exc}")
        raise RuntimeError(f"BLOCKED: ppid {os.getppid()} is bubblewrap's own init")
    """,
        BWRAP,
    )
    assert "BLOCKED" in text


# --- layer 3b: Landlock on its own ----------------------------------------------------------------


@needs_landlock
def test_landlock_alone_denies_reads_and_writes_outside(tmp_path: Path) -> None:
    secret = tmp_path / ".env"
    secret.write_text("DISCORD_TOKEN=hidden")
    repo_env = Path(__file__).resolve().parent.parent / ".env.example"
    text = report(
        f"""
        seen = []
        for path in ("/etc/shadow", "{secret}", "{repo_env}", "/dev/mem", "/proc/1/environ"):
            try:
                with open(path, "rb") as handle:
                    raise RuntimeError("FOUND: " + path + repr(handle.read(40)))
            except OSError as exc:
                seen.append(type(exc).__name__)
        for path in ("{tmp_path}/planted", "/tmp/promptjam-planted"):
            try:
                with open(path, "w") as handle:
                    handle.write("x")
                raise RuntimeError("FOUND: wrote " + path)
            except OSError as exc:
                seen.append(type(exc).__name__)
        with open("inside-work-dir.txt", "w") as handle:
            handle.write("fine")
        raise RuntimeError("BLOCKED " + repr(seen))
    """,
        LANDLOCK,
    )
    assert text.count("PermissionError") >= 6
    assert not (tmp_path / "planted").exists() and not Path("/tmp/promptjam-planted").exists()


@needs_landlock
def test_landlock_alone_denies_tcp_where_the_kernel_can(listener: tuple[int, list[str]]) -> None:
    if landlock_abi() < 4:
        pytest.skip("Landlock ABI < 4 has no network rules")
    port, arrived = listener
    report(CONNECT.format(port=port), LANDLOCK)
    assert arrived == []


# --- layer 3c: seccomp on its own -----------------------------------------------------------------


@needs_seccomp
@pytest.mark.parametrize(
    "body",
    [
        "import socket\nsocket.socket()",
        "import os\nos.fork()",
        "import os\nwhile True:\n    os.fork()",  # the fork bomb: the first fork already fails
        "import subprocess\nsubprocess.run(['/bin/true'])",
        "import os, signal\nos.kill(os.getppid(), signal.SIGTERM)",
        "import os\nos.execv('/bin/sh', ['sh'])",
    ],
    ids=["socket", "fork", "fork-bomb", "subprocess", "signal-parent", "exec"],
)
def test_seccomp_alone_denies(body: str) -> None:
    text = report(body + "\nraise RuntimeError('FOUND: allowed')", SECCOMP)
    assert "PermissionError" in text or "Operation not permitted" in text or "BlockingIOError" in text


@needs_seccomp
def test_seccomp_alone_denies_through_ctypes_and_os_system() -> None:
    text = report(
        """
        import ctypes, os
        libc = ctypes.CDLL(None)
        results = [libc.fork(), libc.socket(2, 1, 0), libc.ptrace(16, os.getppid(), 0, 0), os.system("true")]
        if 0 in results[:1] or results[1] >= 0 or results[2] == 0 or results[3] == 0:
            raise RuntimeError("FOUND: " + repr(results))
        raise RuntimeError("BLOCKED " + repr(results))
    """,
        SECCOMP,
    )
    assert "BLOCKED" in text


@needs_seccomp
def test_threads_still_work_under_seccomp() -> None:
    audio = run_module(
        hostile("""
        import threading
        box = []
        worker = threading.Thread(target=lambda: box.append(1))
        worker.start()
        worker.join()
        assert box == [1]
    """),
        sample_rate=SR,
        max_seconds=1.0,
        isolation=SECCOMP,
    )
    assert audio.audio.frames == 800


# --- layer 4: the result channel and audio validation ---------------------------------------------


def test_a_planted_symlink_is_never_followed(tmp_path: Path) -> None:
    """The result is a pipe: a symlink named like an output file changes nothing on the host."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN")
    result = run_module(
        hostile(f"""
        import os
        for name in ("out.f32", "result.f32", "audio.raw"):
            os.symlink("{secret}", name)
    """),
        sample_rate=SR,
        max_seconds=1.0,
        isolation=NOTHING,
    )
    expected = (np.sin(np.arange(800) * 0.1) * 0.5).astype(np.float32)
    np.testing.assert_allclose(result.audio.samples[0], expected, atol=1e-6)


def test_forged_endless_output_is_cut_off() -> None:
    with pytest.raises(OverLimit, match="more than"):
        run_module(
            hostile("""
            import os, struct
            os.write(3, b"PJA1" + struct.pack("<IIQ", 1, 8000, 10**9))
            while True:
                os.write(3, b"\\0" * 65536)
        """),
            sample_rate=SR,
            max_seconds=1.0,
            isolation=NOTHING,
        )


@pytest.mark.parametrize(
    ("ret", "match"),
    [
        ("np.full(800, np.nan)", "NaN"),
        ("np.full(800, np.inf)", "NaN or infinite"),
        ("np.zeros(sr * 3600, dtype=np.float32)", "at most"),  # one hour of audio
        ("np.zeros(800)", "silence"),
        ("np.zeros((3, 3, 3))", "shape"),
        ("'not audio'", "could not convert|shape|float"),
    ],
)
def test_bad_audio_is_refused(ret: str, match: str) -> None:
    with pytest.raises((BadAudio, CodeRaised), match=match):
        run_module(
            f"import numpy as np\ndef render(sr):\n    return {ret}\n",
            sample_rate=SR,
            max_seconds=5.0,
            isolation=NOTHING,
        )


def test_clipping_audio_is_scaled_into_range() -> None:
    result = run_module(
        "import numpy as np\ndef render(sr):\n    return np.sin(np.arange(800)) * 4\n",
        sample_rate=SR,
        max_seconds=5.0,
        isolation=NOTHING,
    )
    assert result.scaled_by < 0.3
    assert float(np.max(np.abs(result.audio.samples))) <= 1.0


def test_traceback_names_the_module_line() -> None:
    text = run("import numpy as np\ndef render(sr):\n    x = 1\n    return x / 0\n", NOTHING)
    assert 'File "song.py", line 4' in text and "ZeroDivisionError" in text and "main.py" not in text


# --- the full sandbox: the attack suite ------------------------------------------------------------

ATTACKS = {
    "environ": "import os\nif 'DISCORD_TOKEN' in os.environ: raise RuntimeError('FOUND')\nraise RuntimeError('BLOCKED')",
    "proc-parent-environ": "import os\nopen(f'/proc/{os.getppid()}/environ','rb').read()\nraise RuntimeError('BLOCKED')",
    "read-shadow": "open('/etc/shadow').read()",
    "read-dotenv": f"open({str(Path(__file__).resolve().parent.parent / '.env.example')!r}).read()",
    "write-outside": "open('/tmp/../promptjam-escape', 'w').write('x')",
    "socket": "import socket\nsocket.socket()",
    "ctypes-socket": "import ctypes\nr = ctypes.CDLL(None).socket(2, 1, 0)\nraise RuntimeError(('FOUND' if r >= 0 else 'BLOCKED') + str(r))",
    "subprocess": "import subprocess\nsubprocess.run(['id'])",
    "os-system": "import os\nr = os.system('id')\nraise RuntimeError(('FOUND' if r == 0 else 'BLOCKED') + str(r))",
    "importlib": "import importlib\nimportlib.import_module('os').fork()",
    "builtins": "__builtins__['__import__']('os').fork()",
    "subclasses": "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0](['id'])",
    "pickle": "import pickle\npickle.loads(b\"cos\\nsystem\\n(S'id'\\ntR.\")\nraise RuntimeError('BLOCKED ran')",
    "fork-bomb": "import os\nwhile True:\n    os.fork()",
    "signal-parent": "import os\nos.kill(os.getppid(), 9)\nraise RuntimeError('BLOCKED pid ns')",
    "dev-mem": "open('/dev/mem', 'rb').read(16)",
    "numpy-fromfile": "np.fromfile('/etc/shadow', dtype=np.uint8)",
    "memory-bomb": "x = np.ones(1 << 34)",
    "unshare": "import ctypes\nr = ctypes.CDLL(None).unshare(0x10000000)\nraise RuntimeError(('FOUND' if r == 0 else 'BLOCKED') + str(r))",
    "ptrace": "import ctypes, os\nr = ctypes.CDLL(None).ptrace(16, os.getppid(), 0, 0)\nraise RuntimeError(('FOUND' if r == 0 else 'BLOCKED') + str(r))",
}


@pytest.fixture(scope="module")
def strongest() -> Isolation:
    found = detect().isolation
    if not found.strong:
        pytest.skip("this host offers no strong isolation")
    return found


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_suite_through_the_detected_sandbox(name: str, strongest: Isolation) -> None:
    text = run(hostile(ATTACKS[name]), strongest)
    assert "FOUND" not in text
    assert not Path("/promptjam-escape").exists() and not Path("/tmp/promptjam-escape").exists()


def test_the_host_prefers_the_strongest_layers() -> None:
    report_ = detect()
    if Path("/usr/bin/bwrap").exists() and landlock_abi() >= 1 and seccomp_library() is not None:
        assert report_.isolation == FULL
    assert report_.tried and "works" in report_.tried[-1]
    assert os.environ.get("DISCORD_TOKEN", "") not in " ".join(report_.tried) or not os.environ.get(
        "DISCORD_TOKEN"
    )
