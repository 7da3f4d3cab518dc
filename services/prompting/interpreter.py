"""Prompt → StyleSpec: what the styles backend understood, and from which words.

Order of authority: command options beat the prompt's explicit statements, which beat
inference. Inference reads vocabulary tags by keyword first, then by meaning (sentence
embeddings) for tags the keywords missed, plus VADER sentiment and an arousal lexicon.
Every decision is recorded as Evidence with the words that caused it, so the summary
shows exactly what was heard — and says so when meaning matching is off.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from services.prompting.constraints import ExplicitConstraints, NamedInstrument, parse_explicit
from services.prompting.drum_styles import fit_to_metre
from services.prompting.embeddings import Embedder, EmbedderUnavailable, default_embedder
from services.prompting.sentiment import SentimentReading, analyse
from services.prompting.spec import Evidence, EvidenceSource, InstrumentPart, StyleSpec
from services.prompting.vocabulary import (
    ROLES,
    TAGS,
    TAGS_BY_NAME,
    Tag,
    keyword_pattern,
    normalise_prompt,
)
from services.score.gm import program_family, program_name
from services.score.theory import FLAT_NAMES, MODES, SHARP_NAMES, Key

SECTIONS: tuple[str, ...] = ("intro", "A", "B", "A'", "outro")  # what energy_curve's entries describe
# Cosine similarity a tag needs to count by meaning (genre descriptions sit closer together, eras are noisy).
MEANING_THRESHOLDS: dict[str, float] = {"genre": 0.5, "mood": 0.42, "activity": 0.45, "era": 0.55}
MEANING_LIMITS: dict[str, int] = {"genre": 2, "mood": 2, "activity": 2, "era": 1}
_SUGGESTION_WEIGHTS = (0.6, 0.45, 0.3)  # how strongly a non-genre tag leans to its 1st, 2nd, 3rd genre
_FLAT_ENERGY_GENRES = frozenset({"ambient", "lullaby"})
_FLAT_ENERGY_ACTIVITIES = frozenset({"sleep", "meditation"})
_NEGATED_RE = re.compile(
    r"\b(?:not|no|never|without|isn t|isnt|less|un)\s+(?:too\s+|very\s+|so\s+|at\s+all\s+)?$"
)


class _DefaultEmbedder:
    """Marker: use the process-wide embedder."""


DEFAULT_EMBEDDER = _DefaultEmbedder()
MatchSource = Literal["keyword", "meaning"]


@dataclass(frozen=True)
class TagMatch:
    """A vocabulary tag the prompt landed on, and how."""

    tag: Tag  # the tag
    source: MatchSource  # by keyword or by meaning
    words: tuple[str, ...]  # the prompt's words that named it (empty for meaning matches)
    score: float  # keyword: 1.0; meaning: cosine similarity
    position: int  # where in the prompt it was named (meaning matches sort after keywords)


@dataclass(frozen=True)
class Interpretation:
    """The StyleSpec plus what StyleSpec cannot carry yet (drum style, swing) and the raw matches."""

    spec: StyleSpec  # the resolved spec
    drum_style: str  # one of vocabulary.DRUM_STYLES ("none" without drums)
    swing: float  # 0 straight … 0.33 triplet (0.5 max): the composer's scale
    matches: tuple[TagMatch, ...]  # every tag matched, keyword matches first
    meaning_match: bool  # whether embedding similarity took part


@lru_cache(maxsize=1)
def _keyword_index() -> tuple[tuple[re.Pattern[str], Tag, str], ...]:
    """(pattern, tag, keyword), longest keyword first so 'lofi hip hop' beats 'hip hop'."""
    rows = [(keyword_pattern(k), tag, k) for tag in TAGS for k in tag.keywords]
    rows.sort(key=lambda r: len(r[2]), reverse=True)
    return tuple(rows)


def match_keywords(prompt: str, *, blank: tuple[str, ...] = ()) -> list[TagMatch]:
    """Tags named in the prompt. Longer phrases hide the shorter ones inside them, except for moods
    ('dark ambient' is ambient *and* dark); negated words ('not sad') do not count."""
    text = normalise_prompt(prompt)
    for phrase in blank:  # phrases already read as explicit statements ("no piano")
        at = text.find(normalise_prompt(phrase))
        if at >= 0:
            text = text[:at] + " " * len(phrase) + text[at + len(phrase) :]
    masked = list(text)
    found: dict[str, TagMatch] = {}
    for pattern, tag, _ in _keyword_index():
        source = text if tag.category == "mood" else "".join(masked)
        for m in pattern.finditer(source):
            if _NEGATED_RE.search(text[: m.start()]):
                continue
            if tag.category != "mood":
                masked[m.start() : m.end()] = " " * (m.end() - m.start())
            word = prompt[m.start() : m.end()]
            prev = found.get(tag.name)
            if prev is None:
                found[tag.name] = TagMatch(tag, "keyword", (word,), 1.0, m.start())
            elif word.lower() not in (w.lower() for w in prev.words):
                words = prev.words + (word,) if m.start() > prev.position else (word,) + prev.words
                found[tag.name] = TagMatch(tag, "keyword", words, 1.0, min(prev.position, m.start()))
    return sorted(found.values(), key=lambda t: t.position)


@lru_cache(maxsize=1)
def _meaning_tags() -> tuple[Tag, ...]:
    return tuple(t for t in TAGS if t.category != "instrument")


def meaning_texts() -> list[str]:
    """The texts a prompt is compared with by meaning (one per matchable tag); Embedder.warm caches them."""
    return [t.description for t in _meaning_tags()]


def meaning_similarities(prompt: str, embedder: Embedder) -> dict[str, float]:
    """Cosine similarity of the prompt with every matchable tag's description. Raises EmbedderUnavailable."""
    tags = _meaning_tags()
    matrix = embedder.embed_cached(meaning_texts())
    vector = embedder.embed([prompt])[0]
    sims = matrix @ vector
    return {tag.name: float(s) for tag, s in zip(tags, np.asarray(sims).tolist(), strict=True)}


def match_meaning(sims: dict[str, float], already: set[str]) -> list[TagMatch]:
    """Tags close enough in meaning that keywords missed, per category, best first."""
    found: list[TagMatch] = []
    for category, threshold in MEANING_THRESHOLDS.items():
        ranked = sorted(
            (t for t in _meaning_tags() if t.category == category and t.name not in already),
            key=lambda t: sims[t.name],
            reverse=True,
        )
        best = sims[ranked[0].name] if ranked else 0.0
        picked = [t for t in ranked if sims[t.name] >= threshold and sims[t.name] >= best - 0.06]
        for tag in picked[: MEANING_LIMITS[category]]:
            found.append(TagMatch(tag, "meaning", (), sims[tag.name], 10_000))
    return found


def _clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def _words(*groups: tuple[str, ...]) -> tuple[str, ...]:
    """Concatenate word groups without repeats, keeping order."""
    out: list[str] = []
    for group in groups:
        for w in group:
            if w and w not in out:
                out.append(w)
    return tuple(out)


def _choose_genres(
    matches: list[TagMatch], sims: dict[str, float] | None
) -> tuple[list[str], dict[str, tuple[str, ...]], dict[str, str]]:
    """Genres strongest first, the words behind each, and how each was found (keyword/meaning/suggested)."""
    keyword = [m for m in matches if m.tag.category == "genre" and m.source == "keyword"]
    words: dict[str, tuple[str, ...]] = {m.tag.name: m.words for m in keyword}
    how: dict[str, str] = {m.tag.name: "keyword" for m in keyword}
    scores: dict[str, float] = {}
    for m in matches:
        if m.tag.category == "genre" and m.source == "meaning":
            scores[m.tag.name] = (
                scores.get(m.tag.name, 0.0) + 0.3 + (m.score - MEANING_THRESHOLDS["genre"]) * 4
            )
            how.setdefault(m.tag.name, "meaning")
            words.setdefault(m.tag.name, ())
        weight = 1.0 if m.source == "keyword" else 0.7
        for rank, genre in enumerate(m.tag.suggests[:3]):
            scores[genre] = scores.get(genre, 0.0) + weight * _SUGGESTION_WEIGHTS[rank]
            words[genre] = _words(words.get(genre, ()), m.words)
            how.setdefault(genre, "suggested")
    if sims:
        for genre in list(scores):
            scores[genre] += 0.5 * sims.get(genre, 0.0)  # meaning breaks ties between suggestions
    genres = [m.tag.name for m in keyword]
    if scores:
        ranked = sorted(scores, key=lambda g: scores[g], reverse=True)
        top = scores[ranked[0]]
        for genre in ranked:
            if len(genres) >= 3:
                break
            if (
                genre not in genres
                and scores[genre] >= max(0.5, 0.8 * top)
                and (not keyword or scores[genre] >= 1.0)
            ):
                genres.append(genre)
    return genres, words, how


def _default_genre(valence: float, arousal: float) -> str:
    """A genre when nothing named or suggested one: by the mood's quadrant."""
    if arousal >= 0.6:
        return "pop" if valence >= 0 else "rock"
    if arousal < 0.3:
        return "ambient" if valence >= -0.2 else "piano ballad"
    return "pop" if valence >= 0.2 else "lo-fi"


def _default_mood(valence: float, arousal: float) -> str:
    """A mood when no mood word was found: from valence and arousal."""
    if valence >= 0.3 and arousal >= 0.6:
        return "happy"
    if valence >= 0.1 and arousal < 0.35:
        return "chill" if arousal >= 0.2 else "calm"
    if valence <= -0.3 and arousal >= 0.6:
        return "angry" if arousal >= 0.85 else "dark"
    if valence <= -0.4:
        return "sad"
    if valence < -0.1:
        return "melancholic"
    if arousal >= 0.7:
        return "energetic"
    return "chill" if valence >= 0 else "melancholic"


def _weighted(pairs: list[tuple[float, float]], default: float) -> float:
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if total > 0 else default


_CATEGORY_WEIGHT = {"mood": 1.0, "genre": 0.5, "activity": 0.6, "era": 0.3, "instrument": 0.0}


def _feeling(matches: list[TagMatch], sentiment: SentimentReading) -> tuple[float, float, tuple[str, ...]]:
    """Valence and arousal from sentiment and the matched tags, and the words that moved them."""
    valence_pairs: list[tuple[float, float]] = []
    arousal_pairs: list[tuple[float, float]] = []
    words: tuple[str, ...] = ()
    if sentiment.has_valence:
        valence_pairs.append((sentiment.valence, 1.0))
    if sentiment.has_arousal:
        arousal_pairs.append((sentiment.arousal, 1.2))
    for m in matches:
        weight = _CATEGORY_WEIGHT[m.tag.category] * (1.0 if m.source == "keyword" else 0.6)
        if m.tag.valence is not None and weight > 0:
            valence_pairs.append((m.tag.valence, weight))
            words = _words(words, m.words)
        if m.tag.arousal is not None and weight > 0:
            arousal_pairs.append((m.tag.arousal, weight))
            words = _words(words, m.words)
    words = _words(sentiment.valence_words, sentiment.arousal_words, words)
    return _clamp(_weighted(valence_pairs, 0.0), -1, 1), _clamp(_weighted(arousal_pairs, 0.5), 0, 1), words


def _without_statements(prompt: str, explicit: ExplicitConstraints) -> str:
    """The prompt minus its explicit statements, so sentiment reads only the descriptive words."""
    statements = (
        explicit.tempo_words
        + explicit.key_words
        + explicit.mode_words
        + explicit.time_signature_words
        + explicit.drums_words
        + explicit.pitch_set_words
        + explicit.duration_words
        + explicit.bars_words
        + tuple(w for inst in explicit.excluded for w in inst.words)
    )
    for phrase in statements:
        prompt = prompt.replace(phrase, " ", 1)
    return prompt


def _prompt_tonic(prompt: str) -> int:
    """A tonic that depends only on the prompt, so the same words give the same key."""
    digest = hashlib.sha256(" ".join(prompt.lower().split()).encode("utf-8")).digest()
    return digest[0] % 12


def _is_minorish(mode: str) -> bool:
    steps = MODES[mode]
    return 3 in steps and 4 not in steps


def _key_for_pitch_set(pcs: frozenset[int], valence: float, tonic_hint: int) -> Key | None:
    """The most natural key whose scale holds every stated pitch class (tonic in the set preferred)."""
    candidates: list[tuple[tuple[int, int, int, int], Key]] = []
    mode_order = ("major", "minor", "dorian", "mixolydian", "lydian", "phrygian", "harmonic minor")
    for rank, mode in enumerate(mode_order):
        for tonic in range(12):
            key = Key(tonic, mode)
            if pcs <= key.pitch_classes():
                wants_minor = valence < -0.15
                mood_fit = 0 if _is_minorish(mode) == wants_minor else 1
                candidates.append(
                    ((0 if tonic in pcs else 1, rank, mood_fit, (tonic - tonic_hint) % 12), key)
                )
    return min(candidates, key=lambda c: c[0])[1] if candidates else None


# Which roles an instrument plays best, by GM program range (first = preferred).
_ROLE_PREFERENCES: tuple[tuple[range, tuple[str, ...]], ...] = (
    (range(0, 8), ("lead", "chords")),
    (range(8, 16), ("lead", "arp", "chords")),
    (range(16, 21), ("chords", "pad", "lead")),
    (range(21, 24), ("lead", "chords")),
    (range(24, 26), ("chords", "lead")),
    (range(26, 27), ("lead", "chords")),
    (range(27, 29), ("chords", "lead")),
    (range(29, 32), ("lead", "chords")),
    (range(32, 40), ("bass",)),
    (range(40, 42), ("lead", "pad")),
    (range(42, 43), ("lead", "bass")),
    (range(43, 44), ("bass",)),
    (range(44, 46), ("chords", "pad")),
    (range(46, 47), ("arp", "chords", "lead")),
    (range(47, 48), ("bass",)),
    (range(48, 52), ("pad", "chords")),
    (range(52, 55), ("pad", "lead")),
    (range(55, 56), ("chords",)),
    (range(56, 61), ("lead",)),
    (range(61, 64), ("chords", "lead")),
    (range(64, 80), ("lead",)),
    (range(80, 88), ("lead", "arp")),
    (range(88, 96), ("pad", "chords")),
    (range(96, 104), ("pad",)),
    (range(104, 112), ("lead", "chords")),
    (range(112, 120), ("lead", "arp")),
    (range(120, 128), ("pad",)),
)
_STAND_INS: dict[str, tuple[int, ...]] = {"lead": (0, 73, 40, 25, 81), "chords": (26, 25, 0, 16, 48, 89)}
_CHORD_CAPABLE = frozenset([*range(0, 8), *range(16, 22), *range(24, 32), 46, 104, 105, 107])


def role_preferences(program: int) -> tuple[str, ...]:
    """The roles a GM program plays best, preferred first."""
    return next(roles for span, roles in _ROLE_PREFERENCES if program in span)


def _assign_named(
    named: tuple[NamedInstrument, ...],
) -> tuple[dict[str, NamedInstrument], list[NamedInstrument]]:
    """Give each named instrument a role: melody-only instruments claim the lead first."""
    roles: dict[str, NamedInstrument] = {}
    left_out: list[NamedInstrument] = []
    ordered = [n for n in named if role_preferences(n.program) == ("lead",)]
    ordered += [n for n in named if n not in ordered]
    for inst in ordered:
        prefs = role_preferences(inst.program)
        role = next((r for r in prefs if r not in roles), None)
        role = role or next((r for r in ("arp", "pad", "chords", "lead", "bass") if r not in roles), None)
        if role is None:
            left_out.append(inst)
        else:
            roles[role] = inst
    return roles, left_out


@dataclass(frozen=True)
class _Options:
    bpm: float | None
    key: Key | None
    duration_s: float | None


def _check_options(bpm: float | None, key: str | None, duration_s: float | None) -> _Options:
    if bpm is not None and not 20 <= bpm <= 300:
        raise ValueError(f"bpm must be between 20 and 300, got {bpm:g}")
    if duration_s is not None and not duration_s > 0:
        raise ValueError(f"duration must be positive, got {duration_s:g}")
    parsed = Key.parse(key) if key is not None else None  # ValueError names the bad key
    return _Options(bpm, parsed, duration_s)


def interpret_detailed(
    prompt: str,
    *,
    bpm: float | None = None,
    key: str | None = None,
    duration_s: float | None = None,
    default_duration_s: float = 20.0,
    embedder: Embedder | None | _DefaultEmbedder = DEFAULT_EMBEDDER,
) -> Interpretation:
    """Interpret a prompt; see interpret(). Also returns drum style, swing and the tag matches.

    Read top-down: what the words say (tags, meaning, feeling), then each musical decision in turn,
    each appending the evidence (the words that caused it) the reply shows.
    """
    options = _check_options(bpm, key, duration_s)
    evidence: list[Evidence] = []
    reading = _read(prompt, embedder)
    stated: set[str] = set(reading.explicit.stated())

    genres = _genres(reading, evidence, stated)
    moods, mood_names = _moods(reading, evidence)
    tempo = _tempo(options, reading, genres, evidence, stated)
    the_key = _key(options, reading, genres, moods, evidence, stated)
    metre = _metre(reading, genres, evidence)
    parts, drums, drum_style, swing = _parts(reading.explicit, genres.tags, reading.matches, metre, evidence)
    length = _length(options, reading.explicit, metre, tempo, default_duration_s, evidence, stated)
    energy = _energy(reading, genres, evidence)
    evidence.append(Evidence("meaning match", reading.meaning_note, (), "default"))

    matches = reading.matches
    spec = StyleSpec(
        prompt=prompt,
        genres=tuple(genres.names),
        moods=tuple(dict.fromkeys(mood_names)),
        tags=tuple(dict.fromkeys([*genres.names, *mood_names, *(m.tag.name for m in matches)])),
        valence=round(reading.valence, 3),
        arousal=round(reading.arousal, 3),
        tempo_bpm=tempo,
        key=the_key,
        time_signature=metre,
        parts=parts,
        drums=drums,
        energy_curve=energy,
        duration_s=length,
        pitch_set=reading.explicit.pitch_set,
        drum_style=drum_style if drums else "none",
        swing=swing,
        explicit=frozenset(stated),
        evidence=tuple(evidence),
    )
    return Interpretation(spec, drum_style, swing, tuple(matches), reading.sims is not None)


@dataclass(frozen=True)
class _Reading:
    """What the words say, before any musical choice."""

    prompt: str
    explicit: ExplicitConstraints  # what the prompt states outright ("72 bpm", "no drums")
    sentiment: SentimentReading
    matches: list[TagMatch]  # keyword matches first, then meaning matches
    sims: dict[str, float] | None  # tag → similarity, None when meaning match is off
    meaning_note: str  # whether meaning match took part, and why not
    valence: float
    arousal: float
    feeling_words: tuple[str, ...]


def _read(prompt: str, embedder: Embedder | None | _DefaultEmbedder) -> _Reading:
    """Statements, sentiment, and tags by keyword then by meaning."""
    explicit = parse_explicit(prompt)
    sentiment = analyse(_without_statements(prompt, explicit))  # "no drums" is not a negative feeling
    negated = tuple(w for inst in explicit.excluded for w in inst.words)
    matches = match_keywords(prompt, blank=negated + explicit.key_words + explicit.mode_words)
    chosen = embedder if not isinstance(embedder, _DefaultEmbedder) else default_embedder()
    sims: dict[str, float] | None = None
    meaning_note = "meaning match off: no embedder given"
    if chosen is not None:
        ok, reason = chosen.available()
        if ok:
            try:
                sims = meaning_similarities(prompt, chosen)
            except EmbedderUnavailable as exc:
                reason = str(exc)
        meaning_note = "meaning match on (all-MiniLM-L6-v2)" if sims is not None else reason
    if sims is not None:
        matches += match_meaning(sims, {m.tag.name for m in matches})
    valence, arousal, feeling_words = _feeling(matches, sentiment)
    return _Reading(prompt, explicit, sentiment, matches, sims, meaning_note, valence, arousal, feeling_words)


@dataclass(frozen=True)
class _Genres:
    """The genres chosen, lead first, with the words behind each and how each was found."""

    names: list[str]
    tags: list[Tag]
    words: dict[str, tuple[str, ...]]
    how: dict[str, str]  # keyword, meaning, suggested, default

    @property
    def lead(self) -> Tag:
        return self.tags[0]


_GENRE_SOURCE: dict[str, EvidenceSource] = {
    "keyword": "keyword",
    "meaning": "meaning",
    "suggested": "keyword",
    "default": "sentiment",
}


def _genres(reading: _Reading, evidence: list[Evidence], stated: set[str]) -> _Genres:
    genres, genre_words, genre_how = _choose_genres(reading.matches, reading.sims)
    if not genres:
        genres = [_default_genre(reading.valence, reading.arousal)]
        genre_how[genres[0]] = "default"
        genre_words[genres[0]] = reading.feeling_words
    sims = reading.sims
    for g in genres:
        how = genre_how[g]
        value = g if how != "suggested" else f"{g} (suggested by the setting)"
        if how == "meaning":
            value = f"{g} (similarity {sims[g]:.2f})" if sims else g
        evidence.append(Evidence("genre", value, genre_words.get(g, ()), _GENRE_SOURCE[how]))
    if any(genre_how.get(g) == "keyword" for g in genres):
        stated.add("genre")
    return _Genres(genres, [TAGS_BY_NAME[g] for g in genres], genre_words, genre_how)


def _moods(reading: _Reading, evidence: list[Evidence]) -> tuple[list[TagMatch], list[str]]:
    """Mood matches and names (one from the feeling when none was named); evidence for the other tags."""
    moods = [m for m in reading.matches if m.tag.category == "mood"]
    mood_names = [m.tag.name for m in moods]
    for m in moods:
        value = m.tag.name if m.source == "keyword" else f"{m.tag.name} (similarity {m.score:.2f})"
        evidence.append(Evidence("mood", value, m.words, m.source))
    if not mood_names:
        mood_names = [_default_mood(reading.valence, reading.arousal)]
        evidence.append(Evidence("mood", mood_names[0], _words(reading.feeling_words), "sentiment"))
    for m in reading.matches:
        if m.tag.category in ("activity", "instrument", "era"):
            value = m.tag.name if m.source == "keyword" else f"{m.tag.name} (similarity {m.score:.2f})"
            evidence.append(Evidence(m.tag.category, value, m.words, m.source))
    evidence.append(
        Evidence(
            "feeling",
            f"valence {reading.valence:+.2f}, arousal {reading.arousal:.2f}",
            reading.feeling_words,
            "sentiment",
        )
    )
    return moods, mood_names


def _tempo(
    options: _Options, reading: _Reading, genres: _Genres, evidence: list[Evidence], stated: set[str]
) -> float:
    """The option's tempo, else the prompt's, else a point in the genre's range set by arousal."""
    explicit = reading.explicit
    if options.bpm is not None:
        tempo = float(options.bpm)
        evidence.append(Evidence("tempo", f"{tempo:g} bpm", (), "option"))
        stated.add("tempo")
        return tempo
    if explicit.tempo_bpm is not None:
        evidence.append(Evidence("tempo", f"{explicit.tempo_bpm:g} bpm", explicit.tempo_words, "explicit"))
        return explicit.tempo_bpm
    tempo_tag = next((t for t in genres.tags if t.tempo), None)
    lo, hi = tempo_tag.tempo if tempo_tag and tempo_tag.tempo else (70.0, 140.0)
    tempo = float(round(lo + (hi - lo) * reading.arousal))
    words = _words(genres.words.get(tempo_tag.name, ()) if tempo_tag else (), reading.sentiment.arousal_words)
    where = f"{tempo_tag.name} range {lo:g}–{hi:g}" if tempo_tag else "default range"
    evidence.append(
        Evidence("tempo", f"{tempo:g} bpm ({where}, arousal {reading.arousal:.2f})", words, "genre")
    )
    return tempo


def _key(
    options: _Options,
    reading: _Reading,
    genres: _Genres,
    moods: list[TagMatch],
    evidence: list[Evidence],
    stated: set[str],
) -> Key:
    """The option's key, else the prompt's, else one holding its stated notes, else one for the mood."""
    explicit = reading.explicit
    tonic_hint = _prompt_tonic(reading.prompt)
    pitch_set = explicit.pitch_set
    if options.key is not None:
        the_key = options.key
        evidence.append(Evidence("key", the_key.name(), (), "option"))
        stated.add("key")
    elif explicit.key is not None:
        the_key = explicit.key
        evidence.append(Evidence("key", the_key.name(), explicit.key_words, "explicit"))
    elif (
        pitch_set is not None
        and (fit := _key_for_pitch_set(pitch_set, reading.valence, tonic_hint)) is not None
    ):
        the_key = fit
        value = f"{the_key.name()} (holds every stated note)"
        evidence.append(Evidence("key", value, explicit.pitch_set_words, "explicit"))
    else:
        mode, mode_words, mode_source = _mode(reading, genres, moods)
        the_key = Key(tonic_hint, mode)
        evidence.append(
            Evidence("key", f"{the_key.name()} (tonic picked from the prompt)", mode_words, mode_source)
        )
    if pitch_set is not None:
        names = ", ".join(_pc_name(pc, the_key) for pc in sorted(pitch_set))
        evidence.append(Evidence("notes", f"only {names}", explicit.pitch_set_words, "explicit"))
    return the_key


def _mode(
    reading: _Reading, genres: _Genres, moods: list[TagMatch]
) -> tuple[str, tuple[str, ...], EvidenceSource]:
    """The stated mode, else the moods' and the lead genre's, minor-ish when the feeling is sad."""
    explicit = reading.explicit
    if explicit.mode is not None:
        return explicit.mode, explicit.mode_words, "explicit"
    lead = genres.lead
    preferred = [mm for m in moods for mm in m.tag.modes] + list(lead.modes)
    wanted_minor = reading.valence < -0.1
    fitting = [mm for mm in preferred if _is_minorish(mm) == wanted_minor]
    mode = (fitting or preferred or ["minor" if wanted_minor else "major"])[0]
    if abs(reading.valence) <= 0.1 and lead.modes:
        mode = lead.modes[0]
    return mode, _words(genres.words.get(lead.name, ()), *(m.words for m in moods)), "genre"


def _metre(reading: _Reading, genres: _Genres, evidence: list[Evidence]) -> tuple[int, int]:
    """The stated metre, else a genre's (or a keyword tag's), else 4/4."""
    explicit = reading.explicit
    if explicit.time_signature is not None:
        metre = explicit.time_signature
        evidence.append(
            Evidence("metre", f"{metre[0]}/{metre[1]}", explicit.time_signature_words, "explicit")
        )
        return metre
    metre_tag = next((t for t in genres.tags if t.metre), None)
    if metre_tag is None:
        metre_tag = next((m.tag for m in reading.matches if m.tag.metre and m.source == "keyword"), None)
    if metre_tag is not None and metre_tag.metre is not None:
        metre = metre_tag.metre
        words = genres.words.get(metre_tag.name, ()) or (metre_tag.name,)
        evidence.append(Evidence("metre", f"{metre[0]}/{metre[1]}", words, "genre"))
        return metre
    evidence.append(Evidence("metre", "4/4", (), "default"))
    return (4, 4)


def _length(
    options: _Options,
    explicit: ExplicitConstraints,
    metre: tuple[int, int],
    tempo: float,
    default_duration_s: float,
    evidence: list[Evidence],
    stated: set[str],
) -> float:
    """The option's length, else the prompt's (seconds, or bars at the tempo), else the default."""
    beats_per_bar = metre[0] * 4.0 / metre[1]
    if options.duration_s is not None:
        length = float(options.duration_s)
        evidence.append(Evidence("length", f"{length:g} s", (), "option"))
        stated.add("duration")
    elif explicit.duration_s is not None:
        length = float(explicit.duration_s)
        evidence.append(Evidence("length", f"{length:g} s", explicit.duration_words, "explicit"))
    elif explicit.bars is not None:
        length = round(explicit.bars * beats_per_bar * 60.0 / tempo, 2)
        value = f"{length:g} s ({explicit.bars} bars at {tempo:g} bpm)"
        evidence.append(Evidence("length", value, explicit.bars_words, "explicit"))
    else:
        length = float(default_duration_s)
        evidence.append(Evidence("length", f"{length:g} s", (), "default"))
    return length


def _energy(reading: _Reading, genres: _Genres, evidence: list[Evidence]) -> tuple[float, ...]:
    """An energy curve over the sections from arousal: an arc, or flat for ambient and sleep music."""
    flat = genres.lead.name in _FLAT_ENERGY_GENRES or any(
        m.tag.name in _FLAT_ENERGY_ACTIVITIES and m.source == "keyword" for m in reading.matches
    )
    base = 0.2 + 0.65 * reading.arousal
    shape = (0.85, 1.0, 1.05, 1.0, 0.85) if flat else (0.55, 0.85, 1.15, 1.0, 0.5)
    lift = (0.0, 0.0, 0.0 if flat else 0.04, 0.0, 0.0)
    energy = tuple(round(_clamp(base * f + up, 0.05, 1.0), 2) for f, up in zip(shape, lift, strict=True))
    curve = " → ".join(f"{s} {e:.2f}" for s, e in zip(SECTIONS, energy, strict=True))
    words = _words(reading.sentiment.arousal_words, genres.words.get(genres.lead.name, ()))
    evidence.append(Evidence("energy", curve + (" (a flat loop)" if flat else ""), words, "genre"))
    return energy


def _pc_name(pc: int, key: Key) -> str:
    return (FLAT_NAMES if key.uses_flats else SHARP_NAMES)[pc]


def _parts(
    explicit: ExplicitConstraints,
    genre_tags: list[Tag],
    matches: list[TagMatch],
    metre: tuple[int, int],
    evidence: list[Evidence],
) -> tuple[tuple[InstrumentPart, ...], bool, str, float]:
    """The parts to write, whether there are drums, the drum style and the swing."""
    lead_genre = genre_tags[0]
    excluded_families = {program_family(e.program) for e in explicit.excluded}
    named_roles, left_out = _assign_named(explicit.instruments)
    chosen: dict[
        str, tuple[int, str, tuple[str, ...], EvidenceSource]
    ] = {}  # role → (program, name, words, source)

    if explicit.only_instruments:
        for role, inst in named_roles.items():
            chosen[role] = (inst.program, inst.name, _words(inst.words, explicit.only_words), "explicit")
        if "chords" not in chosen:
            harmony = next((i for i in explicit.instruments if i.program in _CHORD_CAPABLE), None)
            if harmony is not None:
                chosen["chords"] = (harmony.program, harmony.name, harmony.words, "explicit")
    else:
        sources = [(t, "genre") for t in genre_tags] + [
            (m.tag, "keyword")
            for m in matches
            if m.tag.category in ("era", "activity") and m.source == "keyword"
        ]
        for role in ROLES:
            for tag, _ in sources:
                program = tag.program_for(role)
                if program is not None and program_family(program) not in excluded_families:
                    chosen[role] = (program, program_name(program), (tag.name,), "genre")
                    break
        for role, inst in named_roles.items():
            chosen[role] = (inst.program, inst.name, inst.words, "explicit")
        wanted = {"lead"} | {r for r in ("chords",) if any(t.program_for(r) is not None for t, _ in sources)}
        for role in sorted(wanted - set(chosen)):  # the genre's own choice was ruled out ("no piano")
            program = next((p for p in _STAND_INS[role] if program_family(p) not in excluded_families), None)
            if program is not None:
                chosen[role] = (program, program_name(program), (), "default")
    for inst in explicit.excluded:
        evidence.append(Evidence("instrument", f"no {inst.name}", inst.words, "explicit"))
    for inst in left_out:
        evidence.append(Evidence("instrument", f"{inst.name}: no free part for it", inst.words, "explicit"))

    parts = [InstrumentPart(role, chosen[role][0], chosen[role][1]) for role in ROLES if role in chosen]
    for role in ROLES:
        if role in chosen:
            program, name, words, source = chosen[role]
            evidence.append(Evidence(role, f"{name} (GM {program} {program_name(program)})", words, source))

    genre_drummer = next((t for t in genre_tags if t.drums), None)
    if explicit.drums is False:
        drums = False
        evidence.append(Evidence("drums", "none", explicit.drums_words, "explicit"))
    elif explicit.drums is True:
        drums = True
        evidence.append(Evidence("drums", "yes", explicit.drums_words, "explicit"))
    elif explicit.only_instruments:
        drums = False
        evidence.append(
            Evidence("drums", "none (only the named instruments)", explicit.only_words, "explicit")
        )
    else:
        drums = bool(lead_genre.drums)
        evidence.append(Evidence("drums", "yes" if drums else "none", (lead_genre.name,), "genre"))
    if drums:
        style = genre_drummer.drum_style if genre_drummer and genre_drummer.drum_style else "rock"
        style = fit_to_metre(style, metre)  # a backbeat pattern does not fit a triple metre
        parts.append(InstrumentPart("drums", 0, f"drum kit ({style})"))
    else:
        style = "none"
    evidence.append(Evidence("drum style", style, (genre_drummer.name,) if genre_drummer else (), "genre"))
    swing_tag = next((t for t in genre_tags if t.swing is not None), None)
    if swing_tag is None:
        swing_tag = next((m.tag for m in matches if m.tag.swing is not None and m.source == "keyword"), None)
    swing = swing_tag.swing if swing_tag and swing_tag.swing is not None else 0.0
    if swing:
        evidence.append(Evidence("swing", f"{swing:.2f}", (swing_tag.name,) if swing_tag else (), "genre"))
    return tuple(parts), drums, style, swing


def interpret(
    prompt: str,
    *,
    bpm: float | None = None,
    key: str | None = None,
    duration_s: float | None = None,
    default_duration_s: float = 20.0,
    embedder: Embedder | None | _DefaultEmbedder = DEFAULT_EMBEDDER,
) -> StyleSpec:
    """Read a prompt into a StyleSpec. Options (bpm, key, duration_s) beat the prompt's explicit statements,
    which beat inference. embedder=None matches by keywords only; the default uses the process-wide
    embedder when it is available. Raises ValueError for a bad option (bpm out of 20–300, unknown key)."""
    return interpret_detailed(
        prompt,
        bpm=bpm,
        key=key,
        duration_s=duration_s,
        default_duration_s=default_duration_s,
        embedder=embedder,
    ).spec
