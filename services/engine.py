"""The services facade: what cogs and the command line talk to.

It owns the database, the workers and the job service, opened and closed as one
async context manager. Cogs never import a backend: they ask the engine.
"""

from __future__ import annotations

import asyncio
import logging
import random
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Literal

from services.backends.abilities import Ability
from services.backends.base import BackendStatus, SongRequest
from services.backends.registry import backend_status, backends_taking, has_ability, names
from services.errors import UnknownJob, UserError, backend_cannot_run
from services.guild_settings import GuildSettingsStore
from services.inputs import check_audio_name, check_declared_size
from services.jams.service import JamService
from services.jobs.executors import Executor, make_executor, status_via
from services.jobs.models import Action, DiscordDelivery, JobRecord, MusicRequest, Origin
from services.jobs.service import JobService, QueueEntry
from services.jobs.store import JobStore
from services.parsing import key_name
from services.policy import Policy
from services.retention import Pruned, Retention
from services.settings import Settings
from services.songs.lyrics import INSTRUMENTAL, beats_per_bar, clean_lyrics, language_code
from services.songs.ranges import check_range

log = logging.getLogger(__name__)

MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class RequestOptions:
    """What a user typed, before validation."""

    prompt: str
    backend: str | None = None
    duration_s: float | None = None
    seed: int | None = None
    bpm: float | None = None
    key: str | None = None
    instruments: str | None = None
    input_path: str | None = None  # an attachment already on disk (see services/inputs.stage_input)
    input_url: str | None = None  # an attachment to fetch once the job is recorded (a vetted Discord URL)
    input_size: int | None = None  # the attachment's size as Discord declared it (checked, never trusted)
    input_name: str | None = None
    input_kind: Literal["image", "audio"] | None = None
    image_mode: Literal["describe", "sonify", "img2img"] | None = None
    song: SongRequest | None = None  # a song job: lyrics as typed (checked here), metre, language, task


SongAction = Literal["repaint", "stems", "lyrics"]


def check_song(song: SongRequest) -> SongRequest:
    """A song request as typed → one the backend can sing, or a UserError saying what to fix."""
    if song.cover_strength is not None and not 0.0 <= song.cover_strength <= 1.0:
        raise UserError("Cover strength goes from 0 (only the prompt) to 1 (only your audio's shape).")
    if song.extend_s is not None and not 1.0 <= song.extend_s <= 600.0:
        raise UserError("A song can be extended by 1 to 600 seconds.")
    return replace(
        song,
        lyrics=clean_lyrics(song.lyrics),
        language=language_code(song.language),
        beats_per_bar=beats_per_bar(song.beats_per_bar),
    )


class Engine:
    """promptjam's engine. `async with Engine(settings) as engine:`."""

    def __init__(
        self,
        settings: Settings,
        *,
        executor: Executor | None = None,
        database: Path | str | None = None,
    ) -> None:
        self.settings = settings
        self._executor = executor
        self._database = database if database is not None else settings.database_file
        self._stack = AsyncExitStack()
        self.store: JobStore | None = None
        self._jobs: JobService | None = None
        self._guilds: GuildSettingsStore | None = None
        self._jams: JamService | None = None
        self._policy: Policy | None = None
        self._retention: Retention | None = None

    async def __aenter__(self) -> Engine:
        try:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            self.store = await self._stack.enter_async_context(JobStore(self._database))
            self._guilds = await self._stack.enter_async_context(GuildSettingsStore(self._database))
            self._policy = Policy(self.settings, self._guilds)
            executor = self._executor or make_executor(self.settings)
            self._executor = executor
            self._jams = await self._stack.enter_async_context(
                JamService(self.settings, self._database, policy=self._policy, statuses=self.backend_status)
            )
            self._retention = Retention(self.settings, self.store, self._jams.store)
            self._jobs = await self._stack.enter_async_context(
                JobService(self.settings, self.store, executor, self._policy)
            )
            self._pruner = asyncio.create_task(self._prune_forever(), name="promptjam-pruner")
            self._stack.push_async_callback(self._stop_pruner)
        except BaseException:  # failed or cancelled half way (a stop during start-up): close what opened
            await self._stack.aclose()
            self.store = self._jobs = self._guilds = self._jams = None
            raise
        return self

    async def prune(self) -> Pruned:
        """Delete every kind of data past its retention now (services/retention.py)."""
        if self._retention is None:
            raise RuntimeError("Engine is not open")
        return await self._retention.prune()

    async def _prune_forever(self) -> None:
        """Delete old data at start-up and every PRUNE_INTERVAL_S; files are deleted off the event loop."""
        while True:
            try:
                pruned = await self.prune()
            except Exception:
                log.exception(
                    "deleting old data failed; trying again in %s s", self.settings.prune_interval_s
                )
            else:
                if pruned:
                    log.info("deleted data past its retention: %s", pruned)
            await asyncio.sleep(self.settings.prune_interval_s)

    async def _stop_pruner(self) -> None:
        self._pruner.cancel()
        with suppress(asyncio.CancelledError):
            await self._pruner

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    @property
    def is_open(self) -> bool:
        return self._jobs is not None

    @property
    def guilds(self) -> GuildSettingsStore:
        """Per-server settings admins change (listening channels, the code switch)."""
        if self._guilds is None:
            raise RuntimeError("Engine is not open")
        return self._guilds

    @property
    def jams(self) -> JamService:
        """Prompt jams: same database, same policy as jobs."""
        if self._jams is None:
            raise RuntimeError("Engine is not open")
        return self._jams

    @property
    def policy(self) -> Policy:
        """The per-server rules every job passes (services/policy.py); jams use it too."""
        if self._policy is None:
            raise RuntimeError("Engine is not open")
        return self._policy

    @property
    def jobs(self) -> JobService:
        """The job seam: admission, queue, events, delivery claims."""
        if self._jobs is None:
            raise RuntimeError("Engine is not open")
        return self._jobs

    # --- backends ------------------------------------------------------------------------------

    def backends(self) -> list[BackendStatus]:
        return [self.backend_status(name) for name in names()]

    def backend_status(self, name: str) -> BackendStatus:
        """Whether `name` can run, where its jobs go: this machine's workers, or workers elsewhere."""
        if self._executor is None:  # not open (`promptjam backends`): what runs here
            return backend_status(name, self.settings)
        return status_via(self._executor, name, self.settings)

    def available_backends(self) -> list[str]:
        return [s.name for s in self.backends() if s.available]

    def backend_can(self, backend: str, ability: Ability) -> bool:
        """Whether `backend`'s record has `ability` (cogs decide what a reply carries by it)."""
        return has_ability(backend, ability)

    # --- requests ------------------------------------------------------------------------------

    def build_request(
        self,
        options: RequestOptions,
        *,
        user_id: int = 0,
        user_name: str = "",
        guild_id: int | None = None,
        channel_id: int | None = None,
        upload_limit_bytes: int = 10 * 1024 * 1024,
        origin: Origin = "discord",
    ) -> MusicRequest:
        """Validate what the user typed into a MusicRequest, or raise UserError saying what to fix.

        Prompt and length limits and per-server rules are checked at admission (services/policy.py),
        where every path passes; this turns typed options into a well-formed request.
        """
        prompt = (options.prompt or "").strip()
        if options.input_kind is not None:
            check_declared_size(options.input_size, self.settings.image_max_bytes)
        if options.input_kind == "audio":
            check_audio_name(options.input_name)
        song = check_song(options.song) if options.song is not None else None
        backend = (options.backend or self._default_backend(options)).strip().lower()
        status = self.backend_status(backend)
        if not status.available:
            raise backend_cannot_run(backend, status.reason)
        duration = options.duration_s
        if options.bpm is not None and not 20 <= options.bpm <= 300:
            raise UserError("Tempo must be between 20 and 300 bpm.")
        key = options.key.strip() if options.key else None
        if key:
            key = key_name(key)
        seed = options.seed if options.seed is not None else random.randint(0, MAX_SEED)
        if not 0 <= seed <= MAX_SEED:
            raise UserError(f"Seed must be between 0 and {MAX_SEED}.")
        return MusicRequest(
            prompt=prompt,
            backend=backend,
            duration_s=float(duration) if duration is not None else None,
            seed=seed,
            bpm=float(options.bpm) if options.bpm is not None else None,
            key=key,
            instruments=(options.instruments or "").strip()[:200] or None,
            input_path=options.input_path,
            input_url=options.input_url,
            input_name=options.input_name,
            input_kind=options.input_kind,
            image_mode=options.image_mode,
            user_id=user_id,
            user_name=user_name,
            guild_id=guild_id,
            channel_id=channel_id,
            upload_limit_bytes=upload_limit_bytes,
            origin=origin,
            song=song,
        )

    def _default_backend(self, options: RequestOptions) -> str:
        """Without a backend option: one that takes the input (audio, img2img), else the bot's default."""
        wants = Ability.AUDIO_IN if options.input_kind == "audio" else None
        if options.song is not None:
            wants = Ability.LYRICS
        if options.input_kind == "image" and options.image_mode == "img2img":
            wants = Ability.IMAGE_IN
        takers = backends_taking(wants) if wants else []
        if takers and self.settings.default_backend not in takers:
            return takers[0]
        return self.settings.default_backend

    async def derive(
        self,
        parent_job_id: str,
        action: Literal["reroll", "extend", "variation"],
        *,
        user_id: int,
        upload_limit_bytes: int,
        origin: Origin = "discord",
    ) -> MusicRequest:
        """A request built on a finished job: reroll (new seed), extend (longer), variation (same style).

        It is admitted like a new request: a rule changed since the first piece (code switched off
        here) applies to the new one."""
        parent = await self.jobs.get(parent_job_id)
        if parent is None or parent.result is None:
            raise UnknownJob("That piece is no longer available to build on.")
        req = parent.request
        res = parent.result
        changes: dict[str, object] = {
            "action": action,
            "parent_job_id": parent_job_id,
            "user_id": user_id,
            "upload_limit_bytes": upload_limit_bytes,
            "origin": origin,
        }
        act: Action = action
        if (
            act == "extend"
            and req.song is not None
            or act == "extend"
            and has_ability(req.backend, Ability.LYRICS)
        ):
            return req.derive(
                **changes,
                **self._song_source(parent),
                song=SongRequest(
                    task="extend",
                    lyrics=res.lyrics or INSTRUMENTAL,
                    language=req.song.language if req.song else "en",
                    beats_per_bar=req.song.beats_per_bar if req.song else None,
                ),
            )
        if act == "reroll":
            changes["seed"] = random.randint(0, MAX_SEED)
        elif act == "variation":
            # Same understood style (tempo, key), different notes.
            changes["seed"] = (res.seed + 7919) % MAX_SEED  # the seed shown (a best-of take may differ)
            changes["bpm"] = res.tempo_bpm
            changes["key"] = res.key
        elif act == "extend" and has_ability(req.backend, Ability.CONTINUES_AUDIO):
            # The backend continues the piece's own audio (musicgen): its MP3 is the job's input.
            changes.update(self._song_source(parent))
            changes["input_name"] = "piece.mp3"
            changes["duration_s"] = self._longer(res.duration_s)
            changes["bpm"] = res.tempo_bpm
            changes["key"] = res.key
        elif act == "extend" and res.continue_from is not None:
            # The backend can continue where the piece ended (riffusion walks on from its last point).
            changes["continue_from"] = res.continue_from
            changes["seed"] = (res.continue_from[1] + 1) % MAX_SEED  # walk on, never back to the start
            changes["duration_s"] = res.duration_s
            changes["bpm"] = res.tempo_bpm
        elif act == "extend":
            changes["duration_s"] = self._longer(res.duration_s)
            changes["bpm"] = res.tempo_bpm
            changes["key"] = res.key
        return req.derive(**changes)

    async def derive_song(
        self,
        parent_job_id: str,
        action: SongAction,
        *,
        user_id: int,
        upload_limit_bytes: int,
        lyrics: str | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
        origin: Origin = "discord",
    ) -> MusicRequest:
        """A song job on a finished song: repaint a range (new words optional), split it into stems, or
        sing it again with the words from the Write lyrics modal. Admitted like a new request."""
        parent = await self.jobs.get(parent_job_id)
        if parent is None or parent.result is None:
            raise UnknownJob("That song is no longer available to build on.")
        req, res = parent.request, parent.result
        if not has_ability(req.backend, Ability.LYRICS):
            raise UserError("Those buttons work on songs from the song backend.")
        if res.stems:
            raise UserError("These are stems already; use the buttons on the song itself.")
        base = req.song or SongRequest()
        words = clean_lyrics(lyrics) if lyrics is not None and lyrics.strip() else None
        changes: dict[str, object] = {
            "action": "variation" if action == "lyrics" else "create",
            "parent_job_id": parent_job_id,
            "user_id": user_id,
            "upload_limit_bytes": upload_limit_bytes,
            "origin": origin,
            "bpm": req.bpm if req.bpm is not None else res.tempo_bpm,
            "key": req.key if req.key is not None else res.key,
        }
        if action == "lyrics":
            if words is None:
                raise UserError("Write some lyrics to sing (or use Reroll for a new take).")
            song = replace(base, task="sing", lyrics=words, lyrics_written_by=None)
            return req.derive(**changes, song=song)
        if action == "stems":
            song = SongRequest(task="stems", lyrics=INSTRUMENTAL, language=base.language)
            return req.derive(**changes, **self._song_source(parent), song=song)
        start, end = check_range(start_s, end_s, res.duration_s)
        song = SongRequest(
            task="repaint",
            lyrics=words or res.lyrics or INSTRUMENTAL,
            language=base.language,
            beats_per_bar=base.beats_per_bar,
            repaint_start_s=start,
            repaint_end_s=end,
        )
        return req.derive(**changes, **self._song_source(parent), song=song, duration_s=None)

    def _longer(self, duration_s: float) -> float:
        """An Extend's length: twice the piece, within MAX_DURATION_S (a piece already there can't grow)."""
        longer = min(float(self.settings.max_duration_s), duration_s * 2)
        if longer <= duration_s + 0.5:
            raise UserError(f"This piece is already at the {self.settings.max_duration_s} s limit.")
        return longer

    @staticmethod
    def _song_source(parent: JobRecord) -> dict[str, object]:
        """The parent's MP3 as the input a song task works on (it travels to remote workers like uploads)."""
        assert parent.result is not None
        return {
            "input_path": parent.result.mp3_path,
            "input_url": None,
            "input_name": "song.mp3",
            "input_kind": "audio",
            "continue_from": None,
        }

    # --- jobs, as commands and buttons use them ----------------------------------------------------
    # The job seam (JobService) stays behind the engine for cogs; the Deliverer, which consumes the seam's
    # events and delivery claims, is the one part of the bot that holds `engine.jobs` itself.

    def admit(self, request: MusicRequest, *, reserve: str) -> None:
        """Raise a UserError if `request` would be refused now; else hold its place until submit/release."""
        self.jobs.admit(request, reserve=reserve)

    def release(self, job_id: str) -> None:
        """Give back a place held by `admit` that will not be submitted (no-op once submitted)."""
        self.jobs.release(job_id)

    async def submit(
        self, job_id: str, request: MusicRequest, delivery: DiscordDelivery | None = None
    ) -> JobRecord:
        return await self.jobs.submit(job_id, request, delivery)

    def position_of(self, job_id: str) -> int | None:
        """1-based place in the queue while queued, else None."""
        return self.jobs.position_of(job_id)

    def queue_for(self, user_id: int) -> list[QueueEntry]:
        """A user's queued and running pieces, in the order they will run."""
        return self.jobs.queue_for(user_id)

    def queue_length(self) -> int:
        return self.jobs.queue_length()

    async def cancel(self, job_id: str, user_id: int) -> JobRecord:
        """Cancel one of the user's queued or running pieces (UnknownJob if it is not theirs)."""
        return await self.jobs.cancel(job_id, user_id)

    async def job(self, job_id: str) -> JobRecord | None:
        return await self.jobs.get(job_id)

    def result_file(self, path: str | None) -> bytes | None:
        """Read a result file written by a worker, if it still exists and lies in our results folder."""
        if not path:
            return None
        p = Path(path).resolve()
        root = self.settings.results_dir.resolve()
        if root not in p.parents or not p.is_file():
            return None
        return p.read_bytes()
