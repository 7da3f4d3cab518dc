"""The rules a request must pass wherever it came from: one gate, so no path can skip one.

Why one place: a rule checked in a cog holds only for that cog's commands. A button, a jam, a
listening channel or a restart then walks around it (a code jam in a server whose admins never
turned code on). `JobService.admit` and `JobService.submit` call `Policy.check` for every job, and
`JamService.start` calls `check_backend` before a jam is even opened; cogs only show the refusal.

The command line is the bot's operator: per-server switches do not apply to it (`origin="cli"`);
what the operator disabled for everyone (ENABLED_BACKENDS) still does, through backend availability.
"""

from __future__ import annotations

from typing import Protocol

from services.backends.abilities import Ability
from services.backends.registry import backends_taking, has_ability, record_for
from services.errors import NotAllowed, UserError
from services.jobs.models import JobKind, MusicRequest, Origin
from services.settings import Settings

MAX_PROMPT_CHARS = 1000  # longer prompts are refused: they are almost always pasted by mistake


class GuildRules(Protocol):
    """The per-server switches the policy reads (GuildSettingsStore, cached in memory)."""

    def code_enabled(self, guild_id: int | None) -> bool: ...


def check_prompt(prompt: str, *, may_be_empty: bool = False) -> None:
    """A prompt is required (unless a picture speaks for it) and must stay under the limit."""
    if not prompt.strip() and not may_be_empty:
        raise UserError("Please describe the music you want — the prompt is empty.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise UserError(
            f"That prompt is {len(prompt):,} characters; please keep it under {MAX_PROMPT_CHARS:,}."
        )


def _names(backends: list[str]) -> str:
    return " or ".join(f"**{b}**" for b in backends) if backends else "no backend on this bot"


class Policy:
    """Per-server switches, what each backend may start from, prompt and length limits."""

    def __init__(self, settings: Settings, guilds: GuildRules) -> None:
        self.settings = settings
        self.guilds = guilds

    def check(self, request: MusicRequest) -> None:
        """Raise a UserError (NotAllowed for a server's switch) if this request may not run here."""
        check_prompt(request.prompt, may_be_empty=request.kind in (JobKind.IMAGE, JobKind.JAM))
        if request.kind is not JobKind.JAM and request.duration_s is not None:
            if not 1 <= request.duration_s <= self.settings.max_duration_s:
                raise UserError(f"Duration must be between 1 and {self.settings.max_duration_s} seconds.")
        self.check_backend(request.backend, guild_id=request.guild_id, origin=request.origin)
        self._check_input(request)

    def check_backend(self, backend: str, *, guild_id: int | None, origin: Origin = "discord") -> None:
        """Whether members here may use `backend` at all (jobs, and jams before they open)."""
        # Backends that run model-written code are off per server until its admins switch code on.
        if origin == "cli" or not has_ability(backend, Ability.RUNS_MODEL_CODE):
            return
        if guild_id is None:
            raise NotAllowed(
                f"The {backend} backend runs only in servers whose admins turned it on "
                "(`/music allow-code enabled:True`), not in direct messages."
            )
        if not self.guilds.code_enabled(guild_id):
            raise NotAllowed(
                f"The {backend} backend is off here. A server admin (Manage Server) can turn it on with "
                "`/music allow-code enabled:True`; it runs model-written code in a sandbox."
            )

    def allows(self, backend: str, guild_id: int | None) -> bool:
        """For menus (autocomplete): whether members here may pick `backend`."""
        try:
            self.check_backend(backend, guild_id=guild_id)
        except NotAllowed:
            return False
        return True

    def _check_input(self, request: MusicRequest) -> None:
        """Each kind of job needs its ability in the backend's record: audio starts only backends that take
        audio, img2img only backends that draw from a picture, words only backends that start from words."""
        kind = request.kind
        if kind is JobKind.SONG:
            takers = backends_taking(Ability.LYRICS)
            if request.backend not in takers:
                raise UserError(
                    f"Songs, covers, repaints and stems are made by the {_names(takers)} backend."
                )
            return
        if kind is JobKind.AUDIO:
            takers = backends_taking(Ability.AUDIO_IN)
            if request.backend not in takers:
                raise UserError(
                    f"Only the {_names(takers)} backend can start from your audio — leave backend empty."
                )
        elif kind is JobKind.IMAGE and request.image_mode == "img2img":
            takers = backends_taking(Ability.IMAGE_IN)
            if request.backend not in takers:
                raise UserError(f"img2img draws from your picture with the {_names(takers)} backend only.")
        elif kind is JobKind.IMAGE and request.image_mode == "sonify":
            return  # the picture itself is the sound: no backend makes it
        elif record_for(request.backend) is not None and not has_ability(request.backend, Ability.TEXT):
            # (a name no record has is refused by admission as "no backend called that")
            takers = backends_taking(Ability.TEXT)
            raise UserError(f"The {request.backend} backend can't start from words; try {_names(takers)}.")
