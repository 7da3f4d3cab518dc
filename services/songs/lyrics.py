"""Song words as users give them: checked before a job is queued, tidied the way ACE-Step reads them.

Light on purpose (no torch): the engine checks lyrics while the user waits for "thinking…", so a mistake
gets a private answer at once. ACE-Step reads section tags in square brackets ([verse], [chorus],
[bridge]…) and one sung line per text line; `[Instrumental]` alone asks for no vocals.
"""

from __future__ import annotations

import re

from services.errors import UserError

MAX_LYRICS_CHARS = 4000  # a Discord modal's paragraph holds 4000; ACE-Step reads up to 2048 tokens
INSTRUMENTAL = "[Instrumental]"
_TAG = re.compile(r"^\s*\[[^\[\]\n]{1,40}\]\s*$")
_MENTION = re.compile(r"<@[!&]?[0-9]+>|<#[0-9]+>|@(?:everyone|here)\b", re.IGNORECASE)
_SLASH_BREAK = re.compile(r"\s+/\s+|\\n")  # one-line slash options: "line one / line two" or "\n"

# ISO 639-1 codes ACE-Step 1.5 was trained on (50+ languages), with the names people type.
LANGUAGES: dict[str, str] = {
    "en": "English",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "it": "Italian",
    "pt": "Portuguese",
    "ru": "Russian",
    "nl": "Dutch",
    "pl": "Polish",
    "tr": "Turkish",
    "ar": "Arabic",
    "hi": "Hindi",
    "id": "Indonesian",
    "vi": "Vietnamese",
    "th": "Thai",
    "sv": "Swedish",
    "no": "Norwegian",
    "da": "Danish",
    "fi": "Finnish",
    "cs": "Czech",
    "el": "Greek",
    "he": "Hebrew",
    "hu": "Hungarian",
    "ro": "Romanian",
    "uk": "Ukrainian",
    "ms": "Malay",
    "fa": "Persian",
    "bn": "Bengali",
    "ta": "Tamil",
    "te": "Telugu",
    "ur": "Urdu",
    "tl": "Tagalog",
    "sk": "Slovak",
    "bg": "Bulgarian",
    "hr": "Croatian",
    "sr": "Serbian",
    "sl": "Slovenian",
    "lt": "Lithuanian",
    "lv": "Latvian",
    "et": "Estonian",
    "ca": "Catalan",
    "eu": "Basque",
    "gl": "Galician",
    "is": "Icelandic",
    "sw": "Swahili",
    "yue": "Cantonese",
    "pa": "Punjabi",
    "mr": "Marathi",
    "la": "Latin",
}
_BY_NAME = {name.lower(): code for code, name in LANGUAGES.items()}


def language_code(text: str | None) -> str:
    """'en', 'English', 'english ' → 'en'; UserError naming a few choices otherwise."""
    if text is None or not text.strip():
        return "en"
    value = text.strip().lower()
    if value in LANGUAGES:
        return value
    if value in _BY_NAME:
        return _BY_NAME[value]
    raise UserError(
        "I don't know the language {language}. Use a code or name such as en, es, ja, zh, fr, de or pt.",
        language=text.strip()[:40],
    )


def clean_lyrics(text: str | None) -> str | None:
    """The lyrics as ACE-Step reads them, or None when none were given. Refuses, with a reason: lyrics over
    the limit, lyrics with nothing to sing (only tags or spaces), and lyrics that mention people."""
    if text is None:
        return None
    if len(text) > MAX_LYRICS_CHARS:
        raise UserError(
            f"Those lyrics are {len(text):,} characters; please keep them under {MAX_LYRICS_CHARS:,}."
        )
    if _MENTION.search(text):
        raise UserError(
            "Lyrics can't contain mentions (@someone, @everyone, #channel): write the name as a word instead."
        )
    if "\n" not in text:
        text = _SLASH_BREAK.sub("\n", text)
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    sung = [line for line in lines if line and not _TAG.match(line)]
    if [line.lower() for line in lines if line] == [INSTRUMENTAL.lower()]:
        return INSTRUMENTAL
    if not sung:
        raise UserError(
            "Those lyrics have nothing to sing (only section tags or spaces). Write some words, or leave the "
            "lyrics out for an instrumental."
        )
    tidy: list[str] = []
    for line in lines:  # at most one blank line in a row: blank lines separate sections
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy)


def is_instrumental(lyrics: str | None) -> bool:
    return lyrics is None or lyrics == "" or lyrics == INSTRUMENTAL


def beats_per_bar(text: str | int | None) -> int | None:
    """'4/4' → 4, '3/4' → 3, '6/8' → 6, 3 → 3; ACE-Step knows 2, 3, 4 and 6 beats to the bar."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    value = str(text).strip()
    match = re.fullmatch(r"([0-9]{1,2})(?:\s*/\s*([0-9]{1,2}))?", value)
    beats = int(match[1]) if match else None
    if beats not in (2, 3, 4, 6):
        raise UserError(
            "The song backend knows the metres 2/4, 3/4, 4/4 and 6/8 (got {metre}).", metre=value[:20]
        )
    return beats


def metre_name(beats: int) -> str:
    return "6/8" if beats == 6 else f"{beats}/4"
