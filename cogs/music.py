"""The /music commands: translate Discord to engine calls and back, nothing more.

Validation happens before the interaction is deferred, so a mistake gets a
private (ephemeral) answer; accepted work is deferred at once and followed by
progress edits and the result (see cogs/delivery.py).
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from cogs.attachments import MediaSource, first_image, from_attachment, vetted_url
from cogs.delivery import Deliverer
from cogs.errors import report_error
from cogs.formatting import (
    CONTENT_LIMIT,
    NO_MENTIONS,
    backends_embed,
    fit_choice_name,
    fit_content,
    safe_text,
    warning_text,
)
from cogs.song_ui import LyricsModal, RepaintModal
from cogs.starting import start_job
from cogs.views import JobButton, StemButton
from services.backends.base import SongRequest
from services.engine import Engine, RequestOptions
from services.errors import UserError
from services.jobs.models import DiscordDelivery, JobState, MusicRequest
from services.logtext import clip
from services.presenting import fmt_duration
from services.songs.lyrics import beats_per_bar

if TYPE_CHECKING:
    from bot.client import PromptJamBot

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_LIMIT = discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES


def _can_manage_guild(interaction: discord.Interaction[Any]) -> bool:
    """Manage Server, or Administrator (which implies it)."""
    perms = interaction.permissions
    if perms.manage_guild or perms.administrator:
        return True
    raise app_commands.CheckFailure("Only members who can manage this server can change this setting.")


_IMAGE_MODES: dict[str, Literal["describe", "sonify", "img2img"]] = {
    "describe": "describe",
    "sonify": "sonify",
    "img2img": "img2img",
}

# Buttons that start a new job from an old one.
_DERIVED_ACTIONS: dict[str, Literal["reroll", "extend", "variation"]] = {
    "reroll": "reroll",
    "extend": "extend",
    "variation": "variation",
}


def upload_limit(interaction: discord.Interaction[Any]) -> int:
    """The largest upload Discord accepts here: the interaction carries it (boosts, DMs, app limits)."""
    limit = getattr(interaction, "filesize_limit", None)
    if isinstance(limit, int) and limit > 0:
        return limit
    return interaction.guild.filesize_limit if interaction.guild else DEFAULT_UPLOAD_LIMIT


class MusicCog(commands.Cog, name="Music"):
    """Make music from words."""

    music = app_commands.Group(name="music", description="Make music from words")

    def __init__(self, bot: commands.Bot, engine: Engine, deliverer: Deliverer) -> None:
        self.bot = bot
        self.engine = engine
        self.deliverer = deliverer  # the bot's: it shows progress and posts results of every job
        self.hear_menu = app_commands.ContextMenu(name="Hear this image", callback=self.hear_image)
        self.hear_menu.error(self._context_menu_error)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.hear_menu)
        self.bot.add_dynamic_items(JobButton, StemButton)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.hear_menu.name, type=self.hear_menu.type)
        self.bot.remove_dynamic_items(JobButton, StemButton)

    async def _context_menu_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await self.cog_app_command_error(interaction, error)

    # --- shared flow ---------------------------------------------------------------------------

    async def _start_job(self, interaction: discord.Interaction[Any], request: MusicRequest) -> None:
        """Admit, defer, submit (cogs/starting.py): 'thinking…' within milliseconds, then progress."""
        await start_job(interaction, self.engine, self.deliverer, request)

    def _request(self, interaction: discord.Interaction[Any], options: RequestOptions) -> MusicRequest:
        """A validated request from what the user typed, with who and where it came from."""
        return self.engine.build_request(
            options,
            user_id=interaction.user.id,
            user_name=interaction.user.display_name,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            upload_limit_bytes=upload_limit(interaction),
        )

    # --- commands ------------------------------------------------------------------------------

    @music.command(name="create", description="Make a piece of music from a prompt")
    @app_commands.describe(
        prompt='What it should sound like, e.g. "rainy lo-fi piano, 80 bpm"',
        backend="How to make it (default: styles)",
        duration="Length in seconds",
        seed="Same seed + same prompt = same music",
        bpm="Tempo in beats per minute (wins over the prompt)",
        key='Key, e.g. "A minor" (wins over the prompt)',
        audio="Your own audio (mp3, wav, ogg, flac) for riffusion to restyle",
    )
    async def create(
        self,
        interaction: discord.Interaction[Any],
        prompt: app_commands.Range[str, 1, 1000],
        backend: str | None = None,
        duration: app_commands.Range[int, 1, 600] | None = None,
        seed: app_commands.Range[int, 0, 2**31 - 1] | None = None,
        bpm: app_commands.Range[int, 20, 300] | None = None,
        key: app_commands.Range[str, 1, 40] | None = None,
        audio: discord.Attachment | None = None,
    ) -> None:
        if audio is not None:
            await self._start_audio_job(interaction, audio, prompt, backend, duration, seed, bpm, key)
            return
        request = self._request(
            interaction,
            RequestOptions(prompt=prompt, backend=backend, duration_s=duration, seed=seed, bpm=bpm, key=key),
        )
        await self._start_job(interaction, request)

    @music.command(
        name="song", description="A sung song: your lyrics (or written for you) at your tempo and key"
    )
    @app_commands.describe(
        prompt='The style, e.g. "dreamy synth-pop, female vocals"',
        lyrics='The words; " / " starts a new line. For long lyrics use write_lyrics instead',
        bpm="Tempo in beats per minute",
        key='Key, e.g. "A minor"',
        timesig='Metre: "4/4", "3/4", "6/8" or "2/4"',
        duration="Length in seconds (10 s to the bot's longest)",
        language="The lyrics' language, e.g. en, es, ja",
        seed="Same seed + same song = same music",
        write_lyrics="Open a box to write long, multi-line lyrics",
    )
    async def song(
        self,
        interaction: discord.Interaction[Any],
        prompt: app_commands.Range[str, 1, 1000],
        lyrics: app_commands.Range[str, 1, 4000] | None = None,
        bpm: app_commands.Range[int, 20, 300] | None = None,
        key: app_commands.Range[str, 1, 40] | None = None,
        timesig: app_commands.Range[str, 1, 8] | None = None,
        duration: app_commands.Range[int, 10, 600] | None = None,
        language: app_commands.Range[str, 1, 20] | None = None,
        seed: app_commands.Range[int, 0, 2**31 - 1] | None = None,
        write_lyrics: bool = False,
    ) -> None:
        def options(words: str | None) -> RequestOptions:
            song = SongRequest(lyrics=words, language=language or "en", beats_per_bar=beats_per_bar(timesig))
            return RequestOptions(
                prompt=prompt, backend="song", duration_s=duration, seed=seed, bpm=bpm, key=key, song=song
            )

        if write_lyrics:
            self._request(interaction, options(None))  # a mistake in the options is said before the box opens

            async def submitted(modal_interaction: discord.Interaction[Any], words: str) -> None:
                await self._start_job(modal_interaction, self._request(modal_interaction, options(words)))

            await interaction.response.send_modal(LyricsModal(submitted, self._report_error, current=lyrics))
            return
        await self._start_job(interaction, self._request(interaction, options(lyrics)))

    @music.command(name="cover", description="Your track re-performed in a new style (the song backend)")
    @app_commands.describe(
        audio="The track (mp3, wav, ogg, flac)",
        prompt='The new style, e.g. "acoustic folk, warm male vocals"',
        strength="0–1: how much of your track's shape is kept (default from the bot's settings)",
        seed="Same seed + same track = same cover",
    )
    async def cover(
        self,
        interaction: discord.Interaction[Any],
        audio: discord.Attachment,
        prompt: app_commands.Range[str, 1, 1000],
        strength: app_commands.Range[float, 0.0, 1.0] | None = None,
        seed: app_commands.Range[int, 0, 2**31 - 1] | None = None,
    ) -> None:
        source = from_attachment(audio)
        request = self._request(
            interaction,
            RequestOptions(
                prompt=prompt,
                backend="song",
                seed=seed,
                input_kind="audio",
                input_name=source.name[:100],
                input_url=vetted_url(source),
                input_size=source.size,
                song=SongRequest(task="cover", cover_strength=strength),
            ),
        )
        await self._start_job(interaction, request)

    @music.command(
        name="notes", description="A language model writes every note; the rules you state are checked"
    )
    @app_commands.describe(
        prompt='e.g. "a folk song that only uses A, B, C#, F# and G"',
        instruments='Who plays, e.g. "fiddle, acoustic guitar, bass" (wins over the prompt)',
        duration="Length in seconds",
        seed="Seed for the sampling, where the model supports one",
        bpm="Tempo in beats per minute (wins over the prompt)",
        key='Key, e.g. "A minor" (wins over the prompt)',
    )
    async def notes(
        self,
        interaction: discord.Interaction[Any],
        prompt: app_commands.Range[str, 1, 1000],
        instruments: app_commands.Range[str, 1, 200] | None = None,
        duration: app_commands.Range[int, 1, 600] | None = None,
        seed: app_commands.Range[int, 0, 2**31 - 1] | None = None,
        bpm: app_commands.Range[int, 20, 300] | None = None,
        key: app_commands.Range[str, 1, 40] | None = None,
    ) -> None:
        request = self._request(
            interaction,
            RequestOptions(
                prompt=prompt,
                backend="notes",
                duration_s=duration,
                seed=seed,
                bpm=bpm,
                key=key,
                instruments=instruments,
            ),
        )
        await self._start_job(interaction, request)

    @music.command(name="image", description="Hear a picture: describe it, sonify it, or draw from it")
    @app_commands.describe(
        image="The picture (PNG, JPEG, WebP, GIF, BMP or TIFF)",
        mode="describe: what it shows becomes a prompt · sonify: heard as a spectrogram · img2img: riffusion",
        prompt="Your own words to steer the music (optional)",
        backend="Backend for describe mode (default: styles)",
        duration="Length in seconds",
        seed="Same seed + same picture = same music",
    )
    @app_commands.choices(
        mode=[
            app_commands.Choice(name="describe (default)", value="describe"),
            app_commands.Choice(name="sonify", value="sonify"),
            app_commands.Choice(name="img2img (riffusion)", value="img2img"),
        ]
    )
    async def image(
        self,
        interaction: discord.Interaction[Any],
        image: discord.Attachment,
        mode: app_commands.Choice[str] | None = None,
        prompt: app_commands.Range[str, 1, 1000] | None = None,
        backend: str | None = None,
        duration: app_commands.Range[int, 1, 600] | None = None,
        seed: app_commands.Range[int, 0, 2**31 - 1] | None = None,
    ) -> None:
        source = from_attachment(image)
        await self._start_image_job(
            interaction, source, mode.value if mode else "describe", prompt, backend, duration, seed
        )

    async def hear_image(self, interaction: discord.Interaction[Any], message: discord.Message) -> None:
        """Context menu: the message's first picture, described and made into music."""
        source = first_image(message)
        if source is None:
            raise UserError(
                "That message has no picture I can hear (attach a PNG, JPEG, WebP, GIF, BMP or TIFF)."
            )
        await self._start_image_job(interaction, source, "describe", None, None, None, None)

    async def _start_audio_job(
        self,
        interaction: discord.Interaction[Any],
        attachment: discord.Attachment,
        prompt: str,
        backend: str | None,
        duration: int | None,
        seed: int | None,
        bpm: int | None,
        key: str | None,
    ) -> None:
        source = from_attachment(attachment)
        request = self._request(
            interaction,
            RequestOptions(
                prompt=prompt,
                backend=backend,
                duration_s=duration,
                seed=seed,
                bpm=bpm,
                key=key,
                input_kind="audio",
                input_name=source.name[:100],
                input_url=vetted_url(source),
                input_size=source.size,
            ),
        )
        await self._start_job(interaction, request)

    async def _start_image_job(
        self,
        interaction: discord.Interaction[Any],
        source: MediaSource,
        mode: str,
        prompt: str | None,
        backend: str | None,
        duration: int | None,
        seed: int | None,
    ) -> None:
        request = self._request(
            interaction,
            RequestOptions(
                prompt=prompt or "",
                backend=backend,
                duration_s=duration,
                seed=seed,
                input_kind="image",
                input_name=source.name[:100],
                input_url=vetted_url(source),
                input_size=source.size,
                image_mode=_IMAGE_MODES.get(mode, "describe"),
            ),
        )
        await self._start_job(interaction, request)

    @music.command(name="code", description="A language model writes sound code; we run it in a sandbox")
    @app_commands.describe(
        prompt='e.g. "a slow pulsing bass under glassy bells"',
        duration="Length in seconds",
        seed="Seed for the sampling, where the model supports one",
        bpm="Tempo in beats per minute",
    )
    async def code(
        self,
        interaction: discord.Interaction[Any],
        prompt: app_commands.Range[str, 1, 1000],
        duration: app_commands.Range[int, 1, 600] | None = None,
        seed: app_commands.Range[int, 0, 2**31 - 1] | None = None,
        bpm: app_commands.Range[int, 20, 300] | None = None,
    ) -> None:
        request = self._request(
            interaction,
            RequestOptions(prompt=prompt, backend="code", duration_s=duration, seed=seed, bpm=bpm),
        )
        await self._start_job(interaction, request)

    @music.command(
        name="allow-code", description="Admins: let people here use the code backend (off by default)"
    )
    @app_commands.describe(enabled="On: /music code and backend:code work in this server")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(_can_manage_guild)
    async def allow_code(self, interaction: discord.Interaction[Any], enabled: bool) -> None:
        assert interaction.guild_id is not None
        await self.engine.guilds.set_code_enabled(interaction.guild_id, enabled)
        state = "on: model-written code runs in the sandbox for this server" if enabled else "off"
        await interaction.response.send_message(f"The code backend is now {state}.", ephemeral=True)

    @music.command(
        name="listen", description="Admins: answer every picture posted in this channel with music"
    )
    @app_commands.describe(enabled="On: pictures posted here get music; off: stop")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(_can_manage_guild)
    async def listen(self, interaction: discord.Interaction[Any], enabled: bool) -> None:
        if enabled and not self.engine.settings.message_content_intent:
            raise UserError(
                "Listening needs Discord's Message Content intent: the bot's operator enables it in the "
                "developer portal (Bot → Privileged Gateway Intents) and sets MESSAGE_CONTENT_INTENT=true."
            )
        assert interaction.guild_id is not None and interaction.channel_id is not None
        await self.engine.guilds.set_listening(interaction.guild_id, interaction.channel_id, enabled)
        state = "listening to pictures posted here 🎧" if enabled else "no longer listening here"
        await interaction.response.send_message(f"OK — {state}.", ephemeral=True)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """In listening channels a posted picture gets music, posted in the channel mentioning its poster."""
        if message.author.bot or message.guild is None:
            return
        if not self.engine.guilds.is_listening(message.guild.id, message.channel.id):
            return
        source = first_image(message)
        if source is None:
            return
        job_id = f"msg-{message.id}"
        try:
            request = self.engine.build_request(
                RequestOptions(
                    prompt=message.content[:1000],
                    input_kind="image",
                    input_name=source.name[:100],
                    input_url=vetted_url(source),
                    input_size=source.size,
                    image_mode="describe",
                ),
                user_id=message.author.id,
                user_name=getattr(message.author, "display_name", message.author.name),
                guild_id=message.guild.id,
                channel_id=message.channel.id,
                upload_limit_bytes=message.guild.filesize_limit,
            )
            delivery = DiscordDelivery(
                application_id=self.bot.application_id or 0,
                interaction_token="",
                token_expires_at=0.0,  # no interaction: the outcome is posted in the channel
                channel_id=message.channel.id,
            )
            await self.engine.submit(job_id, request, delivery)  # admitted there; the picture comes after
            await message.add_reaction("🎧")
        except UserError as exc:
            log.info("listening channel %s: %s", message.channel.id, clip(exc.message))
            await message.reply(warning_text(exc), allowed_mentions=NO_MENTIONS, mention_author=False)
        except discord.HTTPException:
            log.warning("listening channel %s: could not answer", message.channel.id, exc_info=True)

    @create.autocomplete("backend")
    async def _backend_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        current = current.lower()
        return [
            app_commands.Choice(name=fit_choice_name(f"{s.name} — {s.description}"), value=s.name)
            for s in self.engine.backends()
            if s.available and current in s.name and self.engine.policy.allows(s.name, interaction.guild_id)
        ][:25]

    @music.command(name="backends", description="Which backends can run here, and why not")
    async def backends(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_message(embed=backends_embed(self.engine.backends()), ephemeral=True)

    @music.command(name="queue", description="Your pieces waiting or being made")
    async def queue(self, interaction: discord.Interaction[Any]) -> None:
        entries = self.engine.queue_for(interaction.user.id)
        if not entries:
            await interaction.response.send_message("You have nothing in the queue.", ephemeral=True)
            return
        total = self.engine.queue_length()
        footer = f"\n\n{total} piece(s) in the queue in all. Cancel one with `/music cancel`."
        listing = ""
        for i, e in enumerate(entries):
            if e.state is JobState.FETCHING:
                where = "downloading your file"
            else:
                where = f"#{e.position} in queue" if e.position else "being made now"
            eta = f", ready in ~{fmt_duration(e.eta_s)}" if e.eta_s else ""
            line = f"`{e.job_id}` · {where}{eta} · {e.backend} · {safe_text(e.prompt, 80)}"
            more = f"\n… and {len(entries) - i} more"
            if len(listing) + len(line) + len(more) + len(footer) + 1 > CONTENT_LIMIT:
                listing += more
                break
            listing += ("\n" if listing else "") + line
        await interaction.response.send_message(
            fit_content(listing + footer), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @music.command(name="cancel", description="Cancel one of your queued or running pieces")
    @app_commands.describe(job="The piece to cancel (see /music queue)")
    async def cancel(self, interaction: discord.Interaction[Any], job: str) -> None:
        record = await self.engine.cancel(job.strip(), interaction.user.id)
        await interaction.response.send_message(
            f"🛑 Cancelled `{record.job_id}` — {safe_text(record.request.prompt, 80)}",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @cancel.autocomplete("job")
    async def _cancel_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        entries = self.engine.queue_for(interaction.user.id)
        return [
            app_commands.Choice(name=fit_choice_name(f"{e.job_id} · {e.prompt}"), value=e.job_id)
            for e in entries
            if current in e.job_id or current.lower() in e.prompt.lower()
        ][:25]

    # --- buttons -------------------------------------------------------------------------------

    async def handle_button(self, interaction: discord.Interaction[Any], action: str, job_id: str) -> None:
        """Reroll / Extend / Variation start a new job from an old one; MIDI sends the score file."""
        try:
            if action == "midi":
                await self._send_midi(interaction, job_id)
                return
            if action.startswith("stem:"):
                await self._send_stem(interaction, job_id, action.removeprefix("stem:"))
                return
            if action in ("repaint", "lyrics", "stems"):
                await self._song_button(interaction, action, job_id)
                return
            derived = _DERIVED_ACTIONS.get(action)
            if derived is None:
                raise UserError("That button is no longer supported.")
            request = await self.engine.derive(
                job_id, derived, user_id=interaction.user.id, upload_limit_bytes=upload_limit(interaction)
            )
            request = request.derive(
                user_name=interaction.user.display_name, channel_id=interaction.channel_id
            )
            await self._start_job(interaction, request)
        except Exception as exc:
            await self._report_error(interaction, exc)

    async def _song_button(self, interaction: discord.Interaction[Any], action: str, job_id: str) -> None:
        """Stems starts at once; Repaint and Write lyrics first open a modal for the range and words."""

        async def start(
            inter: discord.Interaction[Any],
            which: Literal["repaint", "stems", "lyrics"],
            **kwargs: Any,
        ) -> None:
            request = await self.engine.derive_song(
                job_id, which, user_id=inter.user.id, upload_limit_bytes=upload_limit(inter), **kwargs
            )
            request = request.derive(user_name=inter.user.display_name, channel_id=inter.channel_id)
            await self._start_job(inter, request)

        if action == "stems":
            await start(interaction, "stems")
            return
        record = await self.engine.job(job_id)
        if record is None or record.result is None:
            raise UserError("That song is no longer available to build on.")
        if action == "repaint":

            async def repaint(inter: discord.Interaction[Any], a: float, b: float, words: str | None) -> None:
                await start(inter, "repaint", start_s=a, end_s=b, lyrics=words)

            await interaction.response.send_modal(RepaintModal(repaint, self._report_error))
            return

        async def new_words(inter: discord.Interaction[Any], words: str) -> None:
            await start(inter, "lyrics", lyrics=words)

        modal = LyricsModal(new_words, self._report_error, current=record.result.lyrics)
        await interaction.response.send_modal(modal)

    async def _send_stem(self, interaction: discord.Interaction[Any], job_id: str, stem: str) -> None:
        record = await self.engine.job(job_id)
        stems = dict(record.result.stems) if record and record.result else {}
        data = await asyncio.to_thread(self.engine.result_file, stems.get(stem))
        if data is None or record is None or record.result is None:
            raise UserError("That stem is no longer available.")
        base = record.result.mp3_filename.removesuffix(f"-{record.result.stems[0][0]}.mp3")
        await interaction.response.send_message(
            f"The {stem} stem:",
            file=discord.File(io.BytesIO(data), filename=f"{base}-{stem}.mp3"),
            ephemeral=True,
        )

    async def _send_midi(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        record = await self.engine.job(job_id)
        path = record.result.midi_path if record and record.result else None
        data = await asyncio.to_thread(self.engine.result_file, path)
        if data is None:
            raise UserError("The MIDI file for that piece is no longer available.")
        assert record is not None and record.result is not None
        name = record.result.mp3_filename.removesuffix(".mp3") + ".mid"
        await interaction.response.send_message(
            "Here is the score as MIDI:", file=discord.File(io.BytesIO(data), filename=name), ephemeral=True
        )

    # --- errors --------------------------------------------------------------------------------

    async def cog_app_command_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        original: BaseException = error
        if isinstance(error, app_commands.CommandInvokeError):
            original = error.original
        await self._report_error(interaction, original)

    async def _report_error(self, interaction: discord.Interaction[Any], error: BaseException) -> None:
        await report_error(interaction, error, context="music")


async def setup(bot: PromptJamBot) -> None:
    """Extension entry point (`bot.load_extension("cogs.music")`)."""
    await bot.add_cog(MusicCog(bot, bot.engine, bot.deliverer))
