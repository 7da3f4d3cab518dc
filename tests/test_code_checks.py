"""Static checks refuse the classic escapes with a located message, and let ordinary sound code through."""

from __future__ import annotations

import pytest

from services.backends.code.checks import MAX_SOURCE_BYTES, check_source
from services.backends.code.prompting import EXAMPLE_BEAT, EXAMPLE_DRONE

RENDER = "\ndef render(sr):\n    return 0\n"


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("x = ().__class__.__bases__[0].__subclasses__()", "dunder"),
        ("os = __import__('os')", "__import__"),
        ("data = open('/etc/shadow').read()", "`open`"),
        ("value = eval('1 + 1')", "`eval`"),
        ("exec('x = 1')", "`exec`"),
        ("code = compile('1', 'f', 'eval')", "`compile`"),
        ("g = getattr(render, '__globals__')", "`getattr`"),
        ("b = __builtins__", "__builtins__"),
        ("import os", "importing `os`"),
        ("import sys", "importing `sys`"),
        ("import subprocess", "importing `subprocess`"),
        ("import ctypes", "importing `ctypes`"),
        ("import socket", "importing `socket`"),
        ("from os import system", "importing `os`"),
        ("import numpy.ctypeslib", "importing `numpy.ctypeslib`"),
        ("import numpy as np\nx = np.fromfile('/etc/shadow')", "`.fromfile`"),
        ("import numpy as np\nx = np.memmap('/dev/mem')", "`.memmap`"),
        ("from numpy import load", "importing `load`"),
        ("s = '{0.__class__}'.format(1)", "`__`"),
        ("from . import soundlib", "relative"),
        ("x = render._private", "private"),
    ],
)
def test_classic_escapes_are_refused(code: str, why: str) -> None:
    problems = check_source(code + RENDER)
    assert problems, code
    assert any(why in str(p) for p in problems), [str(p) for p in problems]


def test_examples_from_the_prompt_pass() -> None:
    assert check_source(EXAMPLE_DRONE) == []
    assert check_source(EXAMPLE_BEAT) == []


def test_syntax_errors_are_located() -> None:
    problems = check_source("def render(sr):\n    return (\n")
    assert problems and "syntax error" in str(problems[0]) and problems[0].line >= 2


def test_missing_render_and_oversize_are_refused() -> None:
    assert "render(sr)" in str(check_source("x = 1")[0])
    huge = "x = 1\n" * (MAX_SOURCE_BYTES // 4) + RENDER
    assert "bytes" in str(check_source(huge)[0])


def test_hostile_input_never_crashes_the_checker() -> None:
    for code in ("(" * 10_000, "\x00", "x = 1\r\n" * 10, "'" * 3):
        assert isinstance(check_source(code), list)
