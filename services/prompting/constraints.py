"""Explicit musical statements in a prompt: tempo, key, metre, instruments, drums, notes, length.

Inference may guess; these are the things a user *said*, and every backend must honour
them. Each value comes with the prompt words that stated it, so a summary can show
why. The parser is deliberately conservative: prose such as "a minor change", a date
like "12/05", an era like "80s" or a style like "8-bit" is never read as a statement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from services.score import gm
from services.score.theory import Key, parse_pitch_class, parse_time_signature


@dataclass(frozen=True)
class NamedInstrument:
    """An instrument the prompt named, as a GM program."""

    program: int  # General MIDI program 0–127
    name: str  # the instrument as named, normalised: "cello", "808 bass", "electric piano"
    words: tuple[str, ...]  # the prompt words that named it


@dataclass(frozen=True)
class ExplicitConstraints:
    """Everything a prompt stated outright; None / empty means it said nothing about that."""

    tempo_bpm: float | None = None  # quarter-note bpm, 20–300
    tempo_words: tuple[str, ...] = ()  # e.g. ("72 bpm",)
    key: Key | None = None  # tonic and mode: "in D minor", "key of F#"
    key_words: tuple[str, ...] = ()
    mode: str | None = None  # a mode stated without a tonic: "in a minor key", "dorian"
    mode_words: tuple[str, ...] = ()
    time_signature: tuple[int, int] | None = None  # "3/4", "common time"
    time_signature_words: tuple[str, ...] = ()
    instruments: tuple[NamedInstrument, ...] = ()  # named instruments, in prompt order, no repeats
    only_instruments: bool = False  # "only piano and cello", "just piano", "solo piano": exactly these
    only_words: tuple[str, ...] = ()
    excluded: tuple[NamedInstrument, ...] = ()  # instruments ruled out: "no bass", "without piano"
    drums: bool | None = None  # "no drums" → False, "with drums" → True, unsaid → None
    drums_words: tuple[str, ...] = ()
    pitch_set: frozenset[int] | None = None  # allowed pitch classes: "only uses A, B, C#, F# and G"
    pitch_set_words: tuple[str, ...] = ()
    duration_s: float | None = None  # "30 seconds", "1:30", "2 min"
    duration_words: tuple[str, ...] = ()
    bars: int | None = None  # "16 bars"
    bars_words: tuple[str, ...] = ()

    def stated(self) -> frozenset[str]:
        """The StyleSpec ExplicitField names this prompt stated."""
        fields = {
            "tempo": self.tempo_bpm is not None,
            "key": self.key is not None or self.mode is not None,
            "metre": self.time_signature is not None,
            "instruments": bool(self.instruments) or bool(self.excluded),
            "drums": self.drums is not None,
            "pitch_set": self.pitch_set is not None,
            "duration": self.duration_s is not None or self.bars is not None,
        }
        return frozenset(name for name, said in fields.items() if said)


class _Text:
    """The prompt being read; spans already understood are blanked so nothing is read twice."""

    def __init__(self, prompt: str) -> None:
        self.original = prompt
        # Same length as the prompt, so match positions index the original words.
        self._chars = list(re.sub(r"[-_'’‘–—]", " ", prompt))

    @property
    def text(self) -> str:
        return "".join(self._chars)

    @property
    def low(self) -> str:
        return self.text.lower()

    def take(self, start: int, end: int) -> str:
        """Blank a span and return the prompt's own words for it."""
        for i in range(start, end):
            self._chars[i] = " "
        return self.original[start:end].strip(" ,.;")


# --- tempo -------------------------------------------------------------------------------------------

_TEMPO_RES = (
    re.compile(
        r"(?<![\w.])([0-9]{2,3}(?:\.[0-9]+)?)\s*(?:bpm|b\.p\.m\.?|beats?\s*(?:per|a|/)\s*min(?:ute)?)(?![a-z])"
    ),
    re.compile(
        r"\btempo\s*(?:of|=|:|is|at|around|about)?\s*([0-9]{2,3}(?:\.[0-9]+)?)(?![0-9.]|\s*(?:%|bars?|s\b|sec))"
    ),
    re.compile(r"(?:♩|\bq|\bquarter\s*(?:note)?)\s*=\s*([0-9]{2,3}(?:\.[0-9]+)?)(?![0-9.])"),
)


def _parse_tempo(t: _Text) -> tuple[float | None, tuple[str, ...]]:
    for pattern in _TEMPO_RES:
        m = pattern.search(t.low)
        if m and 20 <= float(m.group(1)) <= 300:
            return float(m.group(1)), (t.take(m.start(), m.end()),)
    return None, ()


# --- metre -------------------------------------------------------------------------------------------

_METRE_RE = re.compile(r"(?<![0-9/.:])([0-9]{1,2})\s*/\s*([0-9]{1,2})(?![0-9/])(?!\s*(?:of|th|\.[0-9]))")
_METRE_WORDS: dict[str, tuple[int, int]] = {
    r"common\s+time": (4, 4),
    r"cut\s+time|alla\s+breve": (2, 2),
    r"waltz\s+time|triple\s+(?:metre|meter|time)|three\s+four(?:\s+time)?": (3, 4),
    r"six\s+eight(?:\s+time)?|compound\s+(?:metre|meter|time)": (6, 8),
    r"duple\s+(?:metre|meter|time)": (2, 4),
    r"quadruple\s+(?:metre|meter|time)|four\s+four(?:\s+time)?": (4, 4),
    r"five\s+four(?:\s+time)?": (5, 4),
    r"seven\s+eight(?:\s+time)?": (7, 8),
}


def _parse_metre(t: _Text) -> tuple[tuple[int, int] | None, tuple[str, ...]]:
    for m in _METRE_RE.finditer(t.low):
        try:
            num, den = parse_time_signature(f"{m.group(1)}/{m.group(2)}")
        except ValueError:
            continue
        if num >= 2 and den >= 2:  # "1/2 speed" is a fraction, "12/05" a date (den 5 fails above)
            return (num, den), (t.take(m.start(), m.end()),)
    for pattern, metre in _METRE_WORDS.items():
        word = re.search(rf"\b(?:{pattern})\b", t.low)
        if word:
            return metre, (t.take(word.start(), word.end()),)
    return None, ()


# --- key and mode ------------------------------------------------------------------------------------

_NOTE = r"(?P<letter>[A-Ga-g])(?P<acc>\s*(?:#|♯|♭|b(?![a-z])|flat\b|sharp\b))?"
_MODE = (
    r"(?P<mode>harmonic\s+minor|major\s+pentatonic|minor\s+pentatonic|pentatonic|mixolydian|phrygian|"
    r"locrian|dorian|lydian|ionian|aeolian|major|minor|(?<=[A-Ga-g#♯♭b])(?:maj|min)(?![a-z])|blues)"
)
_SHORT_MINOR = r"(?P<short>m)(?![a-z])"
_MODE_ONLY_NOUNS = r"(?:key|tonality|scale|mode|feel|vibe|sound)"

# "key of D", "key: F# minor", "key=Am"
_KEY_OF_RE = re.compile(
    rf"\bkey\s*(?:of|:|=|is|in)?\s*{_NOTE}(?:\s*{_MODE}\b|{_SHORT_MINOR})?", re.IGNORECASE
)
# "in D minor", "in F#", "in Bb", "in C#m"
_IN_KEY_RE = re.compile(
    rf"\bin\s+(?:the\s+)?{_NOTE}(?:\s*{_MODE}\b|{_SHORT_MINOR})?(?![\w#♯♭])", re.IGNORECASE
)
# "A minor", "f# dorian" anywhere; the letter "a" gets extra scrutiny below
_NOTE_MODE_RE = re.compile(rf"(?<![\w#])(?:{_NOTE})\s*{_MODE}\b", re.IGNORECASE)
# "Am", "F#m", "Bbm" as a token of its own ("…, Am, 90 bpm")
_SHORT_RE = re.compile(r"(?:^|(?<=[\s,;(]))(?P<letter>[A-G])(?P<acc>#|♯|♭|b)?(?P<short>m)(?=$|[\s,;.)!])")
# A mode with no tonic: "in a minor key", "dorian", "blues scale"
_MODE_ONLY_RE = re.compile(
    r"\b(?:(?:in\s+)?an?\s+)?(?P<mode>major|minor)\s+(?:key|tonality|scale|mode)\b"
    r"|\b(?P<church>mixolydian|phrygian|locrian|dorian|lydian|aeolian|ionian|harmonic\s+minor"
    r"|(?:major\s+|minor\s+)?pentatonic)\b(?:\s+(?:mode|scale))?"
    r"|\b(?P<blues>blues)\s+scale\b",
    re.IGNORECASE,
)


def _after(text: str, end: int) -> str:
    """The next word after a match, or the punctuation that follows it."""
    m = re.match(r"\s*([\w]+|[^\w\s]|$)", text[end:])
    return m.group(1).lower() if m else ""


def _plausible_a_key(text: str, m: re.Match[str], mode: str | None) -> bool:
    """Whether "a"/"A" + mode names the key of A rather than being the article ("a minor change")."""
    letter = m.group("letter")
    following = _after(text, m.end())
    preceded_by_in = bool(re.search(r"\bin\s+(?:the\s+)?$", text[: m.start("letter")], re.IGNORECASE))
    if re.fullmatch(_MODE_ONLY_NOUNS, following):
        return letter == "A" and mode is not None  # "A minor key" yes; "in a minor key" is just a mode
    if following in ("", ",", ";", ".", ")", "!", "?", "and", "with", "at", "for", "&"):
        return mode is not None or letter == "A"  # "…, a minor, 72 bpm"; "in A."
    return letter == "A" and preceded_by_in and mode is not None  # "in A minor over strings"


def _key_from(letter: str, acc: str | None, mode: str | None) -> Key | None:
    acc = (acc or "").strip()
    mode_text = re.sub(r"\s+", " ", mode).lower() if mode else "major"
    try:
        return Key.parse(f"{letter}{acc} {mode_text}")
    except ValueError:
        return None


def _parse_key(t: _Text) -> tuple[Key | None, tuple[str, ...], str | None, tuple[str, ...]]:
    text = t.text
    candidates: list[tuple[re.Match[str], bool]] = []  # (match, needs_a_check)
    for m in _KEY_OF_RE.finditer(text):
        candidates.append((m, False))
    for m in _IN_KEY_RE.finditer(text):
        # Bare "in a"/"in e" without a mode or accidental is prose; "in D" is a key.
        if m.group("mode") or m.group("short") or m.group("acc") or m.group("letter").isupper():
            candidates.append((m, m.group("letter") in "aA" and not m.group("acc")))
    for m in _NOTE_MODE_RE.finditer(text):
        candidates.append((m, m.group("letter") in "aA" and not m.group("acc")))
    for m in _SHORT_RE.finditer(text):
        if _after(text, m.end()) in ("", ",", ";", ".", ")", "!"):
            candidates.append((m, False))
    candidates.sort(key=lambda c: c[0].start())
    for m, check_article in candidates:
        groups = m.groupdict()
        mode = groups.get("mode") or ("minor" if groups.get("short") else None)
        if check_article and not _plausible_a_key(text, m, mode):
            continue
        key = _key_from(groups["letter"], groups.get("acc"), mode)
        if key is not None:
            return key, (t.take(m.start(), m.end()),), None, ()
    bare = _MODE_ONLY_RE.search(text)
    if bare:
        raw = re.sub(r"\s+", " ", (bare.group("mode") or bare.group("church") or bare.group("blues")).lower())
        mode_name = {"aeolian": "minor", "ionian": "major", "pentatonic": "major pentatonic"}.get(raw, raw)
        return None, (), mode_name, (t.take(bare.start(), bare.end()),)
    return None, (), None, ()


# --- pitch set ---------------------------------------------------------------------------------------

_PITCH_TRIGGER = (
    r"(?:only\s+(?:uses?|using|use|contains?|plays?|has)\s+(?:the\s+)?(?:notes?|pitches|pitch\s+classes)?"
    r"|(?:using|uses?|use|with)\s+only\s+(?:the\s+)?(?:notes?|pitches|pitch\s+classes)?"
    r"|only\s+(?:the\s+)?(?:notes?|pitches|pitch\s+classes)"
    r"|(?:notes?|pitches|pitch\s+set|pitch\s+classes)\s*(?:=|:)"
    r"|(?:restricted|limited|confined)\s+to\s+(?:the\s+)?(?:notes?|pitches)?"
    r"|(?:with|using|on)\s+(?:just\s+)?the\s+notes"
    r"|\{)"
)
_PITCH_NOTE = r"(?<![\w#♯♭])[A-Ga-g](?:#|♯|♭|b(?![a-z]))?(?![\w#♯♭])"
_PITCH_SEP = r"(?:\s*,\s*(?:and\s+|&\s*)?|\s+and\s+|\s*&\s*|\s*/\s*|\s+)"
_PITCH_SET_RE = re.compile(
    rf"{_PITCH_TRIGGER}\s*:?\s*(?P<list>{_PITCH_NOTE}(?:{_PITCH_SEP}{_PITCH_NOTE})+)\s*\}}?", re.IGNORECASE
)


def _parse_pitch_set(t: _Text) -> tuple[frozenset[int] | None, tuple[str, ...]]:
    m = _PITCH_SET_RE.search(t.text)
    if not m:
        return None, ()
    names = re.findall(_PITCH_NOTE, m.group("list"))
    pcs = frozenset(parse_pitch_class(n.replace("♯", "#").replace("♭", "b")) for n in names)
    if len(pcs) < 2:
        return None, ()
    return pcs, (t.take(m.start(), m.end()),)


# --- duration and bars -------------------------------------------------------------------------------

_WORD_NUMBERS: dict[str, float] = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
    "forty": 40, "forty five": 45, "fifty": 50, "sixty": 60, "ninety": 90, "half a": 0.5, "half an": 0.5,
}  # fmt: skip
# Numbers are ASCII digits throughout ([0-9]: \d also takes '٣' or '１'). At most 6 before the point here:
# a longer run is no length, and 309 digits would read as an infinite one.
_NUM = r"(?P<num>[0-9]{1,6}(?:\.[0-9]+)?|" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)) + r")"
_CLOCK_RE = re.compile(
    r"(?<![0-9:.])([0-9]{1,2}):([0-5][0-9])(?![0-9:])(?!\s*(?:am|pm|a\.m|p\.m|o\s*clock|h\b))"
)
_MINUTES_RE = re.compile(
    rf"\b{_NUM}\s*(?:minutes?|mins?|(?<=[0-9])m)(?![a-z])(?P<half>\s+and\s+a\s+half)?"
    r"(?:\s*(?:and\s+)?(?P<sec>[0-9]{1,2})\s*(?:seconds?|secs?|s)(?![a-z]))?"
)
_SECONDS_RE = re.compile(rf"\b{_NUM}(?P<space>\s*)(?:seconds?|secs?|(?<=[0-9])s)(?![a-z])")
_DURATION_CONTEXT = re.compile(r"(?:for|lasting|last|about|around|exactly|~|length|of|under|max)\s*$")
_DURATION_AFTER = re.compile(r"\s+(?:long|loop|clip)")
_BARS_RE = re.compile(
    r"\b(?P<num>[0-9]{1,3}|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty)\s*(?:bars?|measures?)\b"
)


def _number(text: str) -> float:
    return float(text) if text[0] in "0123456789" else float(_WORD_NUMBERS[re.sub(r"\s+", " ", text)])


def _parse_duration(t: _Text) -> tuple[float | None, tuple[str, ...]]:
    low = t.low
    for m in _CLOCK_RE.finditer(low):
        if re.search(r"\bat\s*$", low[: m.start()]):
            continue  # "at 7:30" is a time of day
        seconds = int(m.group(1)) * 60 + int(m.group(2))
        if seconds > 0:
            return float(seconds), (t.take(m.start(), m.end()),)
    mins = _MINUTES_RE.search(low)
    if mins:
        extra = (30 if mins.group("half") else 0) + int(mins.group("sec") or 0)
        total = _number(mins.group("num")) * 60 + extra
        if total > 0:
            return total, (t.take(mins.start(), mins.end()),)
    for m in _SECONDS_RE.finditer(low):
        num = m.group("num")
        if not m.group("space") and num.isascii() and num.isdigit():
            value = int(num)
            decade = (10 <= value <= 90 and value % 10 == 0) or (1900 <= value <= 2090 and value % 10 == 0)
            apostrophe = m.start() > 0 and t.original[m.start() - 1] in "'’‘"
            context = _DURATION_CONTEXT.search(low[: m.start()]) or _DURATION_AFTER.match(low[m.end() :])
            if apostrophe or (decade and not context):
                continue  # "80s", "'90s", "1980s" are eras
        if _number(num) > 0:
            return _number(num), (t.take(m.start(), m.end()),)
    return None, ()


def _parse_bars(t: _Text) -> tuple[int | None, tuple[str, ...]]:
    m = _BARS_RE.search(t.low)
    if m:
        bars = int(_number(m.group("num")))
        if 1 <= bars <= 512:
            return bars, (t.take(m.start(), m.end()),)
    return None, ()


# --- instruments, drums, "only" ----------------------------------------------------------------------

# Style names that contain instrument words but name no instrument ("synth-pop", "drum and bass").
_STYLE_MASKS = re.compile(
    r"\b(?:drum\s*(?:and|n|&)\s*bass|d\s*(?:n|&)\s*b|dnb|synth\s*(?:pop|wave|punk)|future\s+bass|bass\s+music"
    r"|bass\s+house|piano\s+house|jazz\s+piano\s+trio)\b"
)
_DRUM_WORDS = (
    r"drum\s*kits?|drum\s*machines?|drum\s*beats?|drum\s*loops?|drum\s*breaks?|drumming|drummer|drums?"
    r"|percussion|percussive\s+elements|kick\s*drums?|kicks?|snares?|hi\s*hats?|hats|cymbals?|rimshots?"
    r"|hand\s*claps?|claps|tambourines?|shakers?|congas?|bongos?|cowbells?|toms|808\s*drums|beats?|rhythm\s+section"
)
_DRUMLESS_RE = re.compile(
    r"\b(?:drum|beat|percussion)\s*(?:less|free)\b|\ba\s*cappella\b|\bbeatless\b|\bdrumless\b"
)
_NEGATION_RE = re.compile(
    r"\b(?:no|without|minus|sans|not?\s+any|zero|lose\s+the|drop\s+the|skip\s+the|nor)\s+"
)
_LIST_GAP_RE = re.compile(r"\s*(?:,|\bor\b|\band\b|\bnor\b|/|&)?\s*(?:any\s+|the\s+|a\s+|an\s+)?")
_ONLY_BEFORE_RE = re.compile(
    r"\b(?:only|just|solo|purely|exclusively|nothing\s+but|unaccompanied)\s+(?:a\s+|an\s+|the\s+|one\s+)?$"
)
_ONLY_AFTER_RE = re.compile(r"^(?:e?s)?\s+(?:only|alone|solo|by\s+itself|on\s+its\s+own|unaccompanied)\b")
_POSITIVE_DRUM_RE = re.compile(rf"\b(?:{_DRUM_WORDS})\b")
_DRUM_ITEM_RE = re.compile(rf"(?:{_DRUM_WORDS})\b")


@lru_cache(maxsize=1)
def _instrument_re() -> tuple[re.Pattern[str], dict[str, int]]:
    """One alternation of every instrument phrase, longest first so 'electric piano' beats 'piano'."""
    phrases = gm.program_phrases()
    ordered = sorted(phrases, key=len, reverse=True)
    body = "|".join(r"\s*".join(re.escape(tok) for tok in phrase.split()) for phrase in ordered)
    pattern = re.compile(rf"(?<![a-z0-9#])(?:{body})(?:e?s)?(?![a-z0-9#])")
    compact = {re.sub(r"\s+", "", phrase): program for phrase, program in phrases.items()}
    return pattern, compact


def _instrument_at(low: str, pos: int) -> re.Match[str] | None:
    pattern, _ = _instrument_re()
    return pattern.match(low, pos)


def _named(t: _Text, m: re.Match[str]) -> NamedInstrument:
    _, compact = _instrument_re()
    phrase = re.sub(r"\s+", " ", m.group(0).strip())
    key = phrase.replace(" ", "")
    program = compact.get(key)
    if program is None:  # plural form: "cellos", "saxes"
        for cut in (1, 2):
            if key[:-cut] in compact:
                program, phrase = compact[key[:-cut]], phrase[:-cut]
                break
    assert program is not None  # the pattern only matches known phrases
    return NamedInstrument(program=program, name=phrase, words=(t.original[m.start() : m.end()].strip(),))


def _parse_negations(t: _Text) -> tuple[list[NamedInstrument], bool, list[str]]:
    """'no drums or bass', 'without piano' → excluded instruments, whether drums were ruled out, words."""
    excluded: list[NamedInstrument] = []
    drum_words: list[str] = []
    no_drums = False
    for m in list(_DRUMLESS_RE.finditer(t.low)):
        drum_words.append(t.take(m.start(), m.end()))
        no_drums = True
    for cue in list(_NEGATION_RE.finditer(t.low)):
        pos, first = cue.end(), True
        while True:
            low = t.low
            if not first:
                gap = _LIST_GAP_RE.match(low, pos)
                pos = gap.end() if gap else pos
            inst = _instrument_at(low, pos)
            drum = None if inst else _DRUM_ITEM_RE.match(low, pos)
            if inst:
                excluded.append(_named(t, inst))
                end = inst.end()
            elif drum:
                no_drums = True
                end = drum.end()
            else:
                break
            words = t.take(cue.start() if first else pos, end)
            if drum:
                drum_words.append(words)
            else:
                excluded[-1] = NamedInstrument(excluded[-1].program, excluded[-1].name, (words,))
            pos, first = end, False
    return excluded, no_drums, drum_words


def _parse_instruments(t: _Text) -> tuple[list[NamedInstrument], bool, list[str]]:
    pattern, _ = _instrument_re()
    found: list[NamedInstrument] = []
    only_words: list[str] = []
    low = t.low
    for m in pattern.finditer(low):
        inst = _named(t, m)
        before = _ONLY_BEFORE_RE.search(low[: m.start()])
        after = _ONLY_AFTER_RE.match(low[m.end() :])
        if before:
            only_words.append(t.original[before.start() : m.end()].strip())
        elif after:
            only_words.append(t.original[m.start() : m.end() + after.end()].strip())
        if all(f.program != inst.program for f in found):
            found.append(inst)
    for m in pattern.finditer(low):
        t.take(m.start(), m.end())
    return found, bool(only_words), only_words


def parse_explicit(prompt: str) -> ExplicitConstraints:
    """Read what the prompt states outright; everything else is left to inference."""
    t = _Text(prompt)
    for m in list(_STYLE_MASKS.finditer(t.low)):
        t.take(m.start(), m.end())
    tempo, tempo_words = _parse_tempo(t)
    pitch_set, pitch_words = _parse_pitch_set(t)
    duration, duration_words = _parse_duration(t)
    metre, metre_words = _parse_metre(t)
    key, key_words, mode, mode_words = _parse_key(t)
    bars, bars_words = _parse_bars(t)
    excluded, no_drums, drum_words = _parse_negations(t)
    instruments, only, only_words = _parse_instruments(t)
    drums: bool | None = False if no_drums else None
    if not no_drums:
        positive = _POSITIVE_DRUM_RE.search(t.low)
        # A bare "beat" ("a chill beat") means a track, not a request for drums.
        if positive and not re.fullmatch(r"beats?", positive.group(0)):
            drums = True
            drum_words = [t.take(positive.start(), positive.end())]
    excluded_programs = {e.program for e in excluded}
    return ExplicitConstraints(
        tempo_bpm=tempo,
        tempo_words=tempo_words,
        key=key,
        key_words=key_words,
        mode=mode,
        mode_words=mode_words,
        time_signature=metre,
        time_signature_words=metre_words,
        instruments=tuple(i for i in instruments if i.program not in excluded_programs),
        only_instruments=only and bool(instruments),
        only_words=tuple(only_words) if instruments else (),
        excluded=tuple(excluded),
        drums=drums,
        drums_words=tuple(drum_words),
        pitch_set=pitch_set,
        pitch_set_words=pitch_words,
        duration_s=duration,
        duration_words=duration_words,
        bars=bars,
        bars_words=bars_words,
    )
