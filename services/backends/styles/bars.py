"""The bar grid every part writer walks: where each bar starts, its chord, its section.

Built once by the composer so melody, bass, comping and drums agree on time,
harmony and energy without passing half a dozen parallel lists around.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.backends.styles.form import FormSection
from services.backends.styles.harmony import Chord


@dataclass(frozen=True)
class Bar:
    """One bar of the piece, with what is going on in it."""

    index: int  # 0-based bar number
    start: float  # onset in beats
    length: float  # beats until the next bar; the final bar runs to the end of the piece
    chord: Chord  # the harmony of the bar
    section: FormSection  # the section the bar belongs to
    final: bool  # the last bar: the ending chord rings here to the end

    @property
    def in_section(self) -> int:
        """Bar number within its section, 0-based."""
        return self.index - self.section.start_bar

    @property
    def section_end(self) -> bool:
        """The last bar of its section (fills and phrase endings go here)."""
        return self.index == self.section.end_bar - 1

    @property
    def section_start(self) -> bool:
        return self.index == self.section.start_bar

    @property
    def energy(self) -> float:
        return self.section.energy

    @property
    def kind(self) -> str:
        return self.section.kind


def make_bars(
    sections: tuple[FormSection, ...], chords: list[Chord], bar_len: float, length_beats: float
) -> list[Bar]:
    """Lay the bars out; the last one stretches (or shrinks) to end exactly at `length_beats`."""
    total = sections[-1].end_bar if sections else 0
    bars: list[Bar] = []
    for sec in sections:
        for i in range(sec.start_bar, sec.end_bar):
            start = i * bar_len
            final = i == total - 1
            length = length_beats - start if final else bar_len
            bars.append(Bar(i, start, length, chords[i], sec, final))
    return bars
