"""The form of a piece: which sections, how many bars each, how much energy.

Sections are whole bars so harmony, melody phrases and drum fills line up; the
energy of each section (from the spec's curve) later decides velocity, density
and which parts play.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class FormSection:
    """One section of the form, in bars."""

    name: str  # "intro", "A", "B", "C", "outro" or "loop 1", "loop 2", …
    kind: str  # "intro", "A", "B", "C", "outro" or "loop": what the arrangement does with it
    start_bar: int  # first bar, 0-based
    bars: int  # length in whole bars, ≥ 1
    energy: float  # 0 (sparse, soft) … 1 (full, loud)

    @property
    def end_bar(self) -> int:
        return self.start_bar + self.bars


def sample_curve(curve: tuple[float, ...], index: int, count: int, fallback: float) -> float:
    """Read the energy curve at section `index` of `count`, interpolating linearly.

    The interpreter's curve need not have one value per section, so it is
    stretched over however many sections the length allows.
    """
    if not curve:
        return fallback
    if count <= 1:
        return _clamp(sum(curve) / len(curve))
    if len(curve) == 1:
        return _clamp(curve[0])
    x = index / (count - 1) * (len(curve) - 1)
    lo = int(x)
    hi = min(lo + 1, len(curve) - 1)
    frac = x - lo
    return _clamp(curve[lo] * (1 - frac) + curve[hi] * frac)


def _clamp(v: float) -> float:
    return min(1.0, max(0.0, v))


_DEFAULT_ENERGY = {"intro": 0.3, "A": 0.55, "B": 0.8, "C": 0.65, "outro": 0.35, "loop": 0.4}


def _song_kinds(total: int, rng: random.Random) -> list[tuple[str, int]]:
    """(kind, bars) for an intro/A/B/outro song of `total` bars."""
    if total < 6:
        return [("A", total)]
    if total < 12:
        edge = 1 if total < 8 else 2
        return [("intro", edge), ("A", total - 2 * edge), ("outro", edge)]
    if total < 20:
        body = total - 4
        a = body // 8 * 4 if body >= 8 else (body + 1) // 2  # A keeps whole four-bar phrases
        return [("intro", 2), ("A", a), ("B", body - a), ("outro", 2)]
    intro = 4 if total >= 32 or rng.random() < 0.5 else 2
    outro = 4 if total >= 32 else 2
    body = total - intro - outro
    phrase = 8 if body >= 32 else 4
    count = max(1, body // phrase)
    kinds = ["A" if i % 2 == 0 else "B" for i in range(count)]
    if count >= 5 and rng.random() < 0.7:
        kinds[count - 2 if kinds[count - 2] == "B" else count - 3] = "C"
    lengths = [phrase] * count
    lengths[-1] += body - phrase * count
    return [("intro", intro)] + list(zip(kinds, lengths, strict=True)) + [("outro", outro)]


def _loop_kinds(total: int) -> list[tuple[str, int]]:
    """Equal loops (ambient): 8 bars when there is room, else 4, remainder to the last."""
    size = 8 if total >= 16 else 4
    count = max(1, total // size)
    lengths = [size] * count
    lengths[-1] += total - size * count
    return [("loop", n) for n in lengths]


def plan_form(
    total_bars: int, energy_curve: tuple[float, ...], *, loop: bool, arousal: float, rng: random.Random
) -> tuple[FormSection, ...]:
    """Lay out sections over `total_bars` whole bars, with an energy each."""
    total_bars = max(1, total_bars)
    kinds = _loop_kinds(total_bars) if loop else _song_kinds(total_bars, rng)
    sections: list[FormSection] = []
    start = 0
    loop_no = 0
    for i, (kind, bars) in enumerate(kinds):
        fallback = _clamp(_DEFAULT_ENERGY[kind] * (0.6 + 0.8 * arousal))
        energy = sample_curve(energy_curve, i, len(kinds), fallback)
        if kind == "loop":
            loop_no += 1
            name = f"loop {loop_no}"
        else:
            name = kind
        sections.append(FormSection(name, kind, start, bars, energy))
        start += bars
    return tuple(sections)
