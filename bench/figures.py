"""The one way benches print their figures: a table of figure, measured, goal and whether it was met."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    figure: str
    measured: str
    goal: str
    met: bool | None  # None: no goal, for information


def table(rows: list[Row]) -> str:
    marks = {True: "yes", False: "NO", None: "-"}
    header = ("figure", "measured", "goal", "met")
    cells = [header, *((r.figure, r.measured, r.goal or "-", marks[r.met]) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(4)).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
