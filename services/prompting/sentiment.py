"""Mood from the words: VADER valence plus an arousal estimate, with the words behind both.

VADER (a lexicon and rules, offline, ~15 ms to load) gives how positive or negative
the prompt reads. It has no notion of energy, so arousal comes from a small lexicon of
energetic and calm words, exclamation marks and shouting. Both report the words that
moved them, because the summary must say why.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import Any

# Energy carried by words: positive = more energetic, negative = calmer. Tempo words count too.
AROUSAL_WORDS: dict[str, float] = {
    # energetic
    "energetic": 0.9, "energy": 0.6, "hype": 0.8, "hyped": 0.8, "intense": 0.8, "loud": 0.6,
    "aggressive": 0.9, "wild": 0.7, "crazy": 0.6, "party": 0.6, "dance": 0.5, "dancing": 0.5,
    "driving": 0.4, "pumping": 0.8, "explosive": 0.9, "frantic": 0.9, "furious": 0.9, "epic": 0.6,
    "powerful": 0.6, "heavy": 0.5, "hard": 0.4, "banger": 0.8, "rave": 0.8, "workout": 0.8, "gym": 0.7,
    "running": 0.6, "racing": 0.8, "race": 0.6, "chase": 0.8, "battle": 0.7, "fight": 0.7, "excited": 0.7,
    "exciting": 0.7, "thrilling": 0.7, "bouncy": 0.5, "punchy": 0.5, "adrenaline": 0.9, "fierce": 0.8,
    "angry": 0.7, "rage": 0.9, "storm": 0.3, "thunder": 0.5, "fire": 0.5, "upbeat": 0.6, "fast": 0.7,
    "faster": 0.7, "quick": 0.5, "rapid": 0.7, "uptempo": 0.7, "lively": 0.6, "groovy": 0.4, "funky": 0.4,
    "triumphant": 0.6, "victory": 0.5, "celebration": 0.5, "hyperactive": 0.9, "chaotic": 0.8,
    "urgent": 0.7, "tense": 0.5, "action": 0.6, "boss": 0.4, "jump": 0.4, "bright": 0.2, "happy": 0.3,
    "joyful": 0.3, "dubstep": 0.5, "metal": 0.6, "punk": 0.6,
    # calm
    "calm": -0.9, "slow": -0.7, "slower": -0.7, "soft": -0.6, "gentle": -0.7, "quiet": -0.7,
    "peaceful": -0.8, "relaxing": -0.8, "relaxed": -0.7, "relax": -0.7, "sleepy": -0.9, "sleep": -0.9,
    "asleep": -0.9, "mellow": -0.6, "chill": -0.5, "chilled": -0.5, "lazy": -0.6, "serene": -0.8,
    "tranquil": -0.8, "soothing": -0.8, "ambient": -0.6, "meditative": -0.9, "meditation": -0.9,
    "lullaby": -0.9, "drowsy": -0.9, "tender": -0.4, "delicate": -0.5, "dreamy": -0.5, "floating": -0.5,
    "hushed": -0.7, "whisper": -0.6, "downtempo": -0.6, "sunday": -0.3, "coffee": -0.2, "rainy": -0.3,
    "rain": -0.3, "cozy": -0.5, "cosy": -0.5, "lonely": -0.3, "melancholic": -0.3, "melancholy": -0.3,
    "sad": -0.3, "somber": -0.4, "bedtime": -0.9, "study": -0.4, "studying": -0.4, "focus": -0.3,
    "drone": -0.6, "laid": -0.3, "still": -0.3, "morning": -0.2,
}  # fmt: skip

_WORD_RE = re.compile(r"[A-Za-z][A-Za-z']*")


@dataclass(frozen=True)
class SentimentReading:
    """How a prompt feels, and which words said so."""

    valence: float  # -1 (negative) … 1 (positive): VADER's compound score
    arousal: float  # 0 (calm) … 1 (energetic); 0.5 when nothing spoke to energy
    valence_words: tuple[str, ...]  # words VADER scored, in prompt order
    arousal_words: tuple[str, ...]  # energy/calm words, "!" and shouted words, in prompt order

    @property
    def has_valence(self) -> bool:
        """Whether any word carried sentiment (otherwise valence is a neutral 0)."""
        return bool(self.valence_words)

    @property
    def has_arousal(self) -> bool:
        """Whether anything spoke to energy (otherwise arousal is a neutral 0.5)."""
        return bool(self.arousal_words)


_analyzer: Any = None
_lock = threading.Lock()


def _vader() -> Any:
    """The process-wide VADER analyser (its lexicon loads once)."""
    global _analyzer
    with _lock:
        if _analyzer is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            _analyzer = SentimentIntensityAnalyzer()
        return _analyzer


def analyse(prompt: str) -> SentimentReading:
    """Valence and arousal of a prompt, with the words behind each."""
    analyzer = _vader()
    words = _WORD_RE.findall(prompt)
    valence = float(analyzer.polarity_scores(prompt)["compound"]) if prompt.strip() else 0.0
    valence_words = tuple(w for w in words if w.lower() in analyzer.lexicon)

    total = 0.0
    arousal_words: list[str] = []
    for word in words:
        weight = AROUSAL_WORDS.get(word.lower())
        if weight is not None:
            total += weight
            arousal_words.append(word)
        elif len(word) >= 3 and word.isupper():  # SHOUTING
            total += 0.3
            arousal_words.append(word)
    bangs = prompt.count("!")
    if bangs:
        total += 0.25 * min(bangs, 3)
        arousal_words.append("!" * min(bangs, 3))
    arousal = 0.5 + 0.5 * math.tanh(total / 1.2) if arousal_words else 0.5
    return SentimentReading(
        valence=valence if valence_words else 0.0,
        arousal=arousal,
        valence_words=valence_words,
        arousal_words=tuple(arousal_words),
    )
