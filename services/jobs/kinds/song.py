"""A song job: words sung (the song backend), or a task on audio — an upload or an earlier song.

Without lyrics and with an LLM configured, the LLM writes them first (the reply shows them); without an
LLM the song is an instrumental, and the reply says so. The audio a task works on is the job's staged
input (the user's upload, or the earlier song's MP3 the button named), decoded here in the worker.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from services.audio.decoding import decode_audio, format_from_name
from services.audio.types import Audio
from services.backends.abilities import Ability, Sings, SingsTakes
from services.backends.base import Generation, ProgressFn, SongRequest
from services.backends.registry import backends_taking, get_backend, has_ability
from services.errors import UserError
from services.jobs.kinds.piece import Piece, generation_request
from services.jobs.kinds.takes import best_take
from services.jobs.kinds.text import states_tempo_or_key
from services.jobs.models import MusicRequest
from services.llm.client import LLMConfig, LLMError
from services.settings import Settings
from services.songs.lyrics import INSTRUMENTAL

log = logging.getLogger(__name__)


def make(request: MusicRequest, settings: Settings, progress: ProgressFn) -> Piece:
    song = request.song
    assert song is not None  # the kind is SONG because it is set
    if not has_ability(request.backend, Ability.LYRICS):
        takers = ", ".join(f"backend:{name}" for name in backends_taking(Ability.LYRICS))
        raise UserError(f"The {request.backend} backend can't sing; use {takers or 'another'}.")
    backend = get_backend(request.backend, settings)
    if not isinstance(backend, Sings):  # the record promised it: a bug, not the user's doing
        raise TypeError(f"the {request.backend} backend's record says it sings; it cannot")
    source = _source(request) if song.task != "sing" else None
    notes: list[str] = []
    if song.task in ("sing", "cover") and song.lyrics is None:
        song, note = _lyrics_for(request, song, settings, progress)
        notes += [note] if note else []
    asked = generation_request(request, settings)
    count = settings.heard_candidates
    if count > 1 and song.task == "sing" and isinstance(backend, SingsTakes) and states_tempo_or_key(asked):
        sung = song  # the takes share the lyrics written above

        def takes(seeds: list[int]) -> list[Generation]:
            return backend.sing_takes(asked, sung, seeds, progress)

        piece = best_take(takes, asked, count, progress, name=request.prompt or "song")
    else:
        piece = Piece.of(backend.sing(asked, song, source, progress), name=request.prompt or "song")
    piece.notes = notes + piece.notes
    return piece


def _source(request: MusicRequest) -> Audio:
    if not request.input_path:
        raise UserError("There is no audio attached to this request.")
    path = Path(request.input_path)
    if not path.is_file():
        raise UserError("The song this builds on is no longer stored here; make a new one.")
    return decode_audio(path.read_bytes(), format_from_name(request.input_name or path.name))


def _lyrics_for(
    request: MusicRequest, song: SongRequest, settings: Settings, progress: ProgressFn
) -> tuple[SongRequest, str | None]:
    """The LLM's lyrics for the prompt, or an instrumental when no LLM is configured or it fails."""
    config = LLMConfig.from_settings(settings)
    if not config.configured:
        return replace(song, lyrics=INSTRUMENTAL), (
            "No lyrics were given and no language model is configured, so this is an instrumental."
        )
    progress("writing lyrics", 0, 1)
    duration = request.duration_s or float(settings.default_duration_s)
    try:
        from services.backends.song.lyricist import write_lyrics

        lyrics = write_lyrics(config, request.prompt, song.language, duration)
    except (LLMError, UserError) as exc:
        log.warning("song %s: the LLM wrote no lyrics: %s", request.prompt[:60], exc)
        return replace(song, lyrics=INSTRUMENTAL), (
            "The language model could not write lyrics this time, so this is an instrumental."
        )
    progress("writing lyrics", 1, 1)
    return replace(song, lyrics=lyrics, lyrics_written_by=config.model), None
