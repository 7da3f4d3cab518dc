"""The drum pattern families the styles engine plays, and the one rule that fits a family to a metre.

The interpreter picks a family from the prompt's tags, the composer falls back to a genre's habit, and
riffusion's beat seeds use the same; all three pass through `fit_to_metre`, so a piece in 3/4 never gets
a backbeat that only a 4/4 bar can carry.

- ``rock``          — backbeat: kick on 1 and 3, snare on 2 and 4, eighth-note hats (with swing: a shuffle)
- ``four_on_floor`` — kick on every beat, off-beat open hats, clap/snare on 2 and 4 (house, disco, techno)
- ``boom_bap``      — laid-back hip hop / lo-fi: syncopated kick, heavy snare on 2 and 4, swung hats
- ``trap``          — half-time snare on 3, rolling sixteenth/triplet hats, sparse 808 kicks
- ``breakbeat``     — broken, syncopated kick/snare (drum and bass, jungle, big beat)
- ``jazz_swing``    — ride cymbal swing pattern, feathered kick, hi-hat on 2 and 4, brushes
- ``bossa``         — bossa nova: cross-stick clave pattern, steady kick, shaker
- ``latin``         — congas, timbales and cowbell over a steady kick (salsa, cumbia)
- ``waltz``         — 3/4: kick on 1, light snare/hats on 2 and 3
- ``reggae``        — one drop: kick and snare together on 3, hats on the off-beats
- ``march``         — snare rudiments and a steady bass drum on every beat
- ``chiptune``      — sparse noise-channel style kick/snare/hat, as an 8-bit console would play it
- ``halftime``      — a soft half-time groove, for genres whose habit is no drums when drums are asked for
- ``none``          — no drums
"""

from __future__ import annotations

DRUM_STYLES: tuple[str, ...] = (
    "rock", "four_on_floor", "boom_bap", "trap", "breakbeat", "jazz_swing", "bossa", "latin",
    "waltz", "reggae", "march", "chiptune", "halftime", "none",
)  # fmt: skip

_TRIPLE_NUMERATORS = frozenset({3, 6, 9, 12})


def fit_to_metre(style: str, metre: tuple[int, int]) -> str:
    """`style` as it can be played in `metre`: triple and compound metres waltz, 4/4 never does."""
    if style == "none":
        return style
    if metre[0] in _TRIPLE_NUMERATORS and metre[1] in (4, 8):
        return "waltz"
    if metre == (4, 4) and style == "waltz":
        return "rock"
    return style
