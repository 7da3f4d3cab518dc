"""Static checks on generated code before it is run.

These are no security boundary (numpy alone offers `fromfile`, `memmap` and `ctypeslib`, and Python
has endless ways around a name check): the sandbox is. They exist to refuse the obvious escapes and
mistakes cheaply, with a message the model can act on, instead of spending a sandbox run on them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

MAX_SOURCE_BYTES = 48_000  # a piece of music needs far less; a huge module is a mistake or an attack
ALLOWED_IMPORTS = frozenset({"numpy", "math", "cmath", "random", "itertools", "functools", "soundlib"})
FORBIDDEN_NAMES = frozenset(
    {
        "open",
        "exec",
        "eval",
        "compile",
        "__import__",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "dir",
        "input",
        "breakpoint",
        "help",
        "memoryview",
        "exit",
        "quit",
        "__builtins__",
        "__loader__",
        "__spec__",
        "classmethod",
        "staticmethod",
        "super",
        "type",
        "object",
    }
)
# numpy entry points to files, raw memory and C: refused to save a round trip (the sandbox stops them anyway).
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "fromfile",
        "tofile",
        "memmap",
        "ctypeslib",
        "ctypes",
        "load",
        "save",
        "savez",
        "savez_compressed",
        "loadtxt",
        "savetxt",
        "genfromtxt",
        "fromregex",
        "DataSource",
        "lib",
        "f2py",
        "testing",
        "distutils",
        "frombuffer",
        "system",
        "popen",
    }
)


@dataclass(frozen=True)
class Problem:
    """One reason the code is refused, located for the model."""

    line: int  # 1-based line in the module (0: the whole module)
    message: str  # what is wrong and what to do instead

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


def check_source(source: str) -> list[Problem]:
    """Every problem found (empty: fine to run). Never raises on any input."""
    size = len(source.encode("utf-8", "replace"))
    if size > MAX_SOURCE_BYTES:
        return [Problem(0, f"the module is {size:,} bytes; keep it under {MAX_SOURCE_BYTES:,}")]
    if "\x00" in source:
        return [Problem(0, "the module contains a NUL character")]
    try:
        tree = ast.parse(source, filename="song.py")
    except SyntaxError as exc:
        return [Problem(exc.lineno or 0, f"syntax error: {exc.msg}")]
    except (ValueError, RecursionError, MemoryError) as exc:
        return [Problem(0, f"the module cannot be parsed: {type(exc).__name__}")]
    problems: list[Problem] = []
    for node in ast.walk(tree):
        problems.extend(_node_problems(node))
    if not any(isinstance(n, ast.FunctionDef) and n.name == "render" for n in tree.body):
        problems.append(Problem(0, "the module must define a top-level function render(sr)"))
    return _dedupe(problems)


def _node_problems(node: ast.AST) -> list[Problem]:
    line = getattr(node, "lineno", 0)
    if isinstance(node, ast.Import):
        return [_import_problem(line, alias.name) for alias in node.names if not _allowed(alias.name)]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            return [Problem(line, "relative imports are not allowed")]
        module = node.module or ""
        found = [] if _allowed(module) else [_import_problem(line, module)]
        found += [
            Problem(line, f"importing `{a.name}` is not allowed")
            for a in node.names
            if a.name.startswith("_") or a.name in FORBIDDEN_ATTRIBUTES
        ]
        return found
    if isinstance(node, ast.Name) and (node.id in FORBIDDEN_NAMES or node.id.startswith("__")):
        return [Problem(line, f"`{node.id}` is not allowed here: the code may only compute audio")]
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("_"):
            return [Problem(line, f"`.{node.attr}`: private and dunder attributes are not allowed")]
        if node.attr in FORBIDDEN_ATTRIBUTES:
            return [Problem(line, f"`.{node.attr}` is not allowed: no files, raw memory or C code")]
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
        text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
        if "__" in text:
            return [Problem(line, "strings containing `__` are not allowed")]
    if isinstance(node, ast.Global | ast.Nonlocal):
        return [Problem(line, "`global`/`nonlocal` are not needed: return values instead")]
    if isinstance(node, ast.AsyncFunctionDef | ast.Await | ast.AsyncFor | ast.AsyncWith):
        return [Problem(line, "async code is not allowed")]
    return []


def _allowed(module: str) -> bool:
    return module.split(".")[0] in ALLOWED_IMPORTS and not any(
        part.startswith("_") or part in FORBIDDEN_ATTRIBUTES for part in module.split(".")[1:]
    )


def _import_problem(line: int, module: str) -> Problem:
    allowed = ", ".join(sorted(ALLOWED_IMPORTS))
    return Problem(line, f"importing `{module}` is not allowed; the modules you may use are {allowed}")


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[str] = set()
    out = []
    for problem in problems:
        if str(problem) not in seen:
            seen.add(str(problem))
            out.append(problem)
    return out[:20]
