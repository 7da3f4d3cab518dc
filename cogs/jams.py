"""The /jam commands: a channel writes a piece together, one prompt each.

The cog translates Discord to JamService calls and back. Renders go through the job
system (fair, persistent); their progress and result are shown by the music cog's
Deliverer, which delivers every job with a Discord delivery, jam renders included.
Buttons are DynamicItems with ids in their custom_id, so they work after restarts.
"""

from __future__ import annotations

import asyncio
import logging
import re
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from cogs.delivery import Deliverer
from cogs.errors import report_error
from cogs.formatting import EMBED_COLOUR, NO_MENTIONS, fit_choice_name, fit_embed, safe_text, warning_text
from cogs.music import upload_limit
from cogs.starting import start_job
from services.engine import Engine
from services.errors import UserError
from services.jams.models import ContributionState, Jam, JamState, VoteChoice
from services.jams.service import JamOptions, JamSnapshot
from services.jams.timing import clock
from services.jobs.models import MusicRequest
from services.parsing import parse_id
from services.untrusted import clean

if TYPE_CHECKING:
    from bot.client import PromptJamBot

log = logging.getLogger(__name__)

_CARD_LIST_CHARS = 3800  # room for the prompt list in the card's description (Discord allows 4096)


def is_moderator(interaction: discord.Interaction[Any]) -> bool:
    """Manage Messages or Manage Server in this channel: may remove any prompt and control any jam."""
    perms = interaction.permissions
    return bool(perms.manage_messages or perms.manage_guild or perms.administrator)


# --- buttons ----------------------------------------------------------------------------------------


class JamControlButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"pj:jam:(?P<action>play|end):(?P<jam>[A-Za-z0-9_-]{1,40})",
):
    """Play / End on the jam card; the cog checks who may press them."""

    def __init__(self, action: str, jam_id: str) -> None:
        label, emoji, style = {
            "play": ("Play", "▶️", discord.ButtonStyle.primary),
            "end": ("End", "🏁", discord.ButtonStyle.secondary),
        }[action]
        super().__init__(
            discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=f"pj:jam:{action}:{jam_id}")
        )
        self.action = action
        self.jam_id = jam_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> JamControlButton:
        return cls(match["action"], match["jam"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        cog = interaction.client.get_cog("Jams")
        if not isinstance(cog, JamsCog):
            await interaction.response.send_message("Jams are unavailable right now.", ephemeral=True)
            return
        await cog.handle_control(interaction, self.action, self.jam_id)


class JamVoteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"pj:jv:(?P<choice>keep|skip):(?P<cid>[0-9]{1,18})",  # ASCII digits; 18 fit SQLite's int64
):
    """Keep / Skip under a contribution; one vote per user, changeable."""

    def __init__(self, choice: str, contribution_id: int) -> None:
        label, emoji, style = {
            "keep": ("Keep", "👍", discord.ButtonStyle.success),
            "skip": ("Skip", "👎", discord.ButtonStyle.danger),
        }[choice]
        super().__init__(
            discord.ui.Button(
                label=label, emoji=emoji, style=style, custom_id=f"pj:jv:{choice}:{contribution_id}"
            )
        )
        self.choice = VoteChoice(choice)
        self.contribution_id = contribution_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> JamVoteButton:
        return cls(match["choice"], int(match["cid"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        cog = interaction.client.get_cog("Jams")
        if not isinstance(cog, JamsCog):
            await interaction.response.send_message("Jams are unavailable right now.", ephemeral=True)
            return
        await cog.handle_vote(interaction, self.choice, self.contribution_id)


def card_view(jam: Jam) -> discord.ui.View | None:
    if jam.state is not JamState.OPEN:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(JamControlButton("play", jam.id))
    view.add_item(JamControlButton("end", jam.id))
    return view


def vote_view(contribution_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(JamVoteButton("keep", contribution_id))
    view.add_item(JamVoteButton("skip", contribution_id))
    return view


# --- the card ---------------------------------------------------------------------------------------


def card_embed(snapshot: JamSnapshot) -> discord.Embed:
    """The jam card: prompts in order with authors and votes, tempo, key, length so far, state."""
    jam = snapshot.jam
    title = f"🎶 Prompt jam: {safe_text(jam.theme, 200)}" if jam.theme else "🎶 Prompt jam"
    lines: list[str] = []
    for c in snapshot.contributions:
        if c.state is ContributionState.REMOVED:
            continue
        tally = snapshot.tallies.get(c.id)
        votes = f" · 👍 {tally.keeps} 👎 {tally.skips}" if tally else ""
        line = f"`#{c.position}` **{safe_text(c.author_name, 40)}** — {safe_text(c.prompt, 120)}"
        if c.state is ContributionState.DROPPED:
            line = f"~~{line}~~ *(skipped by vote)*"
        lines.append(line + votes)
    listing = ""
    for i, line in enumerate(lines):
        if len(listing) + len(line) + 1 > _CARD_LIST_CHARS:
            listing += f"\n… and {len(lines) - i} more"
            break
        listing += ("\n" if listing else "") + line
    state = "open — add your part with `/jam add`" if jam.state is JamState.OPEN else "ended"
    embed = discord.Embed(
        title=title,
        description=(listing or "*No prompts yet — be the first with `/jam add`.*"),
        colour=EMBED_COLOUR,
    )
    embed.add_field(name="Tempo", value=f"{jam.bpm:g} bpm")
    embed.add_field(name="Key", value=jam.key)
    embed.add_field(name="Segments", value=f"{jam.bars} bars ({jam.segment_s:.1f} s) each")
    embed.add_field(name="Prompts", value=str(len(snapshot.active)))
    embed.add_field(name="Length so far", value=clock(snapshot.length_s))
    embed.add_field(name="Backend", value=jam.backend)
    embed.add_field(name="State", value=state, inline=False)
    embed.set_footer(text=f"jam {jam.id} · started by {clean(jam.starter_name, 80)}")
    return fit_embed(embed)


# --- the cog ----------------------------------------------------------------------------------------


class JamsCog(commands.Cog, name="Jams"):
    """Write a piece together: everyone adds a prompt, the bot plays them as one."""

    jam = app_commands.Group(
        name="jam", description="Write a piece together, one prompt each", guild_only=True
    )

    def __init__(self, bot: commands.Bot, engine: Engine, deliverer: Deliverer) -> None:
        self.bot = bot
        self.engine = engine
        self.jams = engine.jams
        self.deliverer = deliverer  # the bot's: it shows every job's progress and result, jam renders too
        self._card_dirty: set[str] = set()
        self._card_tasks: dict[str, asyncio.Task[None]] = {}

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(JamControlButton, JamVoteButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(JamControlButton, JamVoteButton)
        tasks = list(self._card_tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task

    # --- commands ------------------------------------------------------------------------------

    @jam.command(name="start", description="Open a prompt jam here (in a new thread where possible)")
    @app_commands.describe(
        theme="What the jam is about, e.g. 'a summer night'",
        bpm="Tempo every part is played at",
        key='Key every part is played in, e.g. "A minor"',
        bars="Bars per part",
        backend="How parts are made (default: styles)",
    )
    async def start(
        self,
        interaction: discord.Interaction[Any],
        theme: app_commands.Range[str, 1, 100] | None = None,
        bpm: app_commands.Range[int, 40, 240] | None = None,
        key: app_commands.Range[str, 1, 40] | None = None,
        bars: app_commands.Range[int, 1, 16] | None = None,
        backend: str | None = None,
    ) -> None:
        if interaction.channel_id is None:
            raise UserError("Jams live in a server channel.")
        jam = await self.jams.start(
            str(interaction.id),
            JamOptions(theme=theme, bpm=bpm, key=key, bars=bars, backend=backend),
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            starter_id=interaction.user.id,
            starter_name=interaction.user.display_name,
        )
        await interaction.response.defer(thinking=True)
        thread = await self._open_thread(interaction, jam)
        target: discord.abc.Messageable | None = thread
        if target is None and isinstance(interaction.channel, discord.abc.Messageable):
            target = interaction.channel
        snapshot = await self.jams.snapshot(jam.id)
        if target is None:
            raise UserError("I can't post in this channel, so the jam can't live here.")
        view = card_view(jam)
        assert view is not None  # a jam just started is open
        card = await target.send(embed=card_embed(snapshot), view=view, allowed_mentions=NO_MENTIONS)
        await self.jams.set_home(
            jam.id,
            thread_id=thread.id if thread else None,
            card_channel_id=card.channel.id,
            card_message_id=card.id,
        )
        about = f" — {safe_text(jam.theme, 100)}" if jam.theme else ""
        where = f" in {thread.mention}" if thread else ""
        await interaction.edit_original_response(
            content=(
                f"🎶 {safe_text(interaction.user.display_name, 60)} started a prompt jam{about}{where}: "
                f"{jam.bpm:g} bpm, {jam.key}, {jam.bars} bars a part. Add your part with `/jam add`!"
            ),
            allowed_mentions=NO_MENTIONS,
        )

    async def _open_thread(self, interaction: discord.Interaction[Any], jam: Jam) -> discord.Thread | None:
        """A public thread for the jam where the channel allows one and the bot may create it."""
        channel = interaction.channel
        if not isinstance(channel, discord.TextChannel):
            return None
        if not interaction.app_permissions.create_public_threads:
            return None
        name = f"Jam: {jam.theme}" if jam.theme else "Prompt jam"
        try:
            return await channel.create_thread(
                name=name[:100], type=discord.ChannelType.public_thread, auto_archive_duration=1440
            )
        except discord.HTTPException as exc:
            log.info("could not open a thread for jam %s (%s); it lives in the channel", jam.id, exc)
            return None

    @jam.command(name="add", description="Add your part to this channel's jam")
    @app_commands.describe(prompt='What your part sounds like, e.g. "sunrise flute"')
    async def add(
        self, interaction: discord.Interaction[Any], prompt: app_commands.Range[str, 1, 300]
    ) -> None:
        jam, contribution = await self.jams.add(
            _channel(interaction),
            prompt,
            author_id=interaction.user.id,
            author_name=interaction.user.display_name,
        )
        await interaction.response.send_message(
            f"🎵 **#{contribution.position}** {safe_text(contribution.author_name, 60)} added: "
            f"{safe_text(contribution.prompt, 300)}\nVote to keep or skip it:",
            view=vote_view(contribution.id),
            allowed_mentions=NO_MENTIONS,
        )
        self.schedule_card(jam.id)

    @jam.command(name="messages", description="Admins: plain messages in jam threads count as prompts")
    @app_commands.describe(enabled="On: a message posted in a jam's thread is added like /jam add")
    @app_commands.default_permissions(manage_guild=True)
    async def messages(self, interaction: discord.Interaction[Any], enabled: bool) -> None:
        perms = interaction.permissions
        if not (perms.manage_guild or perms.administrator):
            raise UserError("Only members who can manage this server can change this setting.")
        if enabled and not self.engine.settings.message_content_intent:
            raise UserError(
                "Reading plain messages needs Discord's Message Content intent: the bot's operator "
                "enables it in the developer portal (Bot → Privileged Gateway Intents) and sets "
                "MESSAGE_CONTENT_INTENT=true."
            )
        assert interaction.guild_id is not None
        await self.engine.guilds.set_jam_messages(interaction.guild_id, enabled)
        state = "count as prompts" if enabled else "no longer count as prompts"
        await interaction.response.send_message(f"OK — messages in jam threads {state}.", ephemeral=True)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Where a guild enabled it, a plain message in a jam's own thread is added like `/jam add`."""
        if message.author.bot or message.guild is None or not isinstance(message.channel, discord.Thread):
            return
        if not self.engine.guilds.jam_messages(message.guild.id):
            return
        text = " ".join(message.content.split())
        if not text or text.startswith(("/", "!")):
            return
        try:
            jam = await self.jams.jam_in(message.channel.id)
        except UserError:
            return  # not a jam thread
        if jam.thread_id != message.channel.id or jam.state is not JamState.OPEN:
            return
        author_name = getattr(message.author, "display_name", message.author.name)
        try:
            jam, contribution = await self.jams.add(
                message.channel.id, text, author_id=message.author.id, author_name=author_name
            )
            await message.reply(
                f"🎵 **#{contribution.position}** added. Vote to keep or skip it:",
                view=vote_view(contribution.id),
                allowed_mentions=NO_MENTIONS,
                mention_author=False,
            )
            self.schedule_card(jam.id)
        except UserError as exc:
            with suppress(discord.HTTPException):
                await message.reply(warning_text(exc), allowed_mentions=NO_MENTIONS, mention_author=False)
        except discord.HTTPException:
            log.warning("jam %s: could not answer a message", jam.id, exc_info=True)

    @jam.command(name="remove", description="Take a prompt out of the jam (yours, or any for moderators)")
    @app_commands.describe(contribution="The prompt to remove (default: your latest)")
    async def remove(self, interaction: discord.Interaction[Any], contribution: str | None = None) -> None:
        wanted: int | None = None
        if contribution is not None:
            wanted = parse_id(contribution)
            if wanted is None:
                raise UserError(
                    "That isn't a prompt number I can look up — pick the prompt from the list "
                    "(or type its number, like `3`)."
                )
        jam, removed = await self.jams.remove(
            _channel(interaction), wanted, user_id=interaction.user.id, is_moderator=is_moderator(interaction)
        )
        await interaction.response.send_message(
            f"🗑️ Removed #{removed.position} by {safe_text(removed.author_name, 60)}: "
            f"{safe_text(removed.prompt, 200)}",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )
        self.schedule_card(jam.id)

    @remove.autocomplete("contribution")
    async def _remove_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        jam = await self.jams.store.latest_jam_in(_channel(interaction))
        if jam is None or jam.state is not JamState.OPEN:
            return []
        moderator = is_moderator(interaction)
        current = current.lower().lstrip("#")
        choices = []
        for c in await self.jams.contributions(jam.id):
            if c.state is ContributionState.REMOVED or (c.author_id != interaction.user.id and not moderator):
                continue
            name = fit_choice_name(f"#{c.position} {c.author_name} — {c.prompt}")
            if current and current not in name.lower():
                continue
            choices.append(app_commands.Choice(name=name, value=str(c.id)))
        return choices[:25]

    @jam.command(name="play", description="Play the jam as it stands (starter or moderators)")
    async def play(self, interaction: discord.Interaction[Any]) -> None:
        _, request = await self.jams.play(
            _channel(interaction),
            user_id=interaction.user.id,
            user_name=interaction.user.display_name,
            is_moderator=is_moderator(interaction),
            upload_limit_bytes=upload_limit(interaction),
        )
        await self._render(interaction, request)

    @jam.command(name="end", description="End the jam and play the final piece (starter or moderators)")
    async def end(self, interaction: discord.Interaction[Any]) -> None:
        await self._end(interaction, _channel(interaction))

    async def _end(self, interaction: discord.Interaction[Any], channel_id: int) -> None:
        jam, request = await self.jams.end(
            channel_id,
            user_id=interaction.user.id,
            user_name=interaction.user.display_name,
            is_moderator=is_moderator(interaction),
            upload_limit_bytes=upload_limit(interaction),
        )
        self.schedule_card(jam.id)
        if request is None:
            await interaction.response.send_message(
                "🏁 The jam has ended — it had no prompts in play, so there is nothing to play.",
                allowed_mentions=NO_MENTIONS,
            )
            return
        await self._render(interaction, request)

    # --- rendering -----------------------------------------------------------------------------

    async def _render(self, interaction: discord.Interaction[Any], request: MusicRequest) -> None:
        """Admit (refusals stay private), defer, submit; the Deliverer shows progress and the result."""
        request = request.derive(channel_id=interaction.channel_id or request.channel_id)
        await start_job(interaction, self.engine, self.deliverer, request)

    # --- buttons -------------------------------------------------------------------------------

    async def handle_control(self, interaction: discord.Interaction[Any], action: str, jam_id: str) -> None:
        try:
            jam = await self.jams.get(jam_id)
            if jam is None:
                raise UserError("That jam no longer exists.")
            if action == "end":
                await self._end(interaction, jam.home_channel_id)
                return
            _, request = await self.jams.play(
                jam.home_channel_id,
                user_id=interaction.user.id,
                user_name=interaction.user.display_name,
                is_moderator=is_moderator(interaction),
                upload_limit_bytes=upload_limit(interaction),
            )
            await self._render(interaction, request)
        except Exception as exc:
            await self._report_error(interaction, exc)

    async def handle_vote(
        self, interaction: discord.Interaction[Any], choice: VoteChoice, contribution_id: int
    ) -> None:
        try:
            jam, outcome = await self.jams.vote(contribution_id, user_id=interaction.user.id, choice=choice)
            c = outcome.contribution
            text = (
                f"{'👍' if choice is VoteChoice.KEEP else '👎'} You voted **{choice.value}** "
                f"on #{c.position} "
                f"(keep {outcome.tally.keeps} · skip {outcome.tally.skips})."
            )
            if outcome.changed_state:
                text += (
                    " That was enough: it is dropped from the jam."
                    if c.state is ContributionState.DROPPED
                    else " It is back in the jam."
                )
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            self.schedule_card(jam.id)
        except Exception as exc:
            await self._report_error(interaction, exc)

    # --- the card, kept up to date -------------------------------------------------------------

    def schedule_card(self, jam_id: str) -> None:
        """Refresh the jam's card soon; bursts of changes collapse into few edits."""
        self._card_dirty.add(jam_id)
        task = self._card_tasks.get(jam_id)
        if task is None or task.done():
            self._card_tasks[jam_id] = asyncio.create_task(self._card_loop(jam_id), name=f"jam-card-{jam_id}")

    async def _card_loop(self, jam_id: str) -> None:
        try:
            while jam_id in self._card_dirty:
                self._card_dirty.discard(jam_id)
                await self._edit_card(jam_id)
        finally:
            if self._card_tasks.get(jam_id) is asyncio.current_task():
                self._card_tasks.pop(jam_id, None)

    async def _edit_card(self, jam_id: str) -> None:
        try:
            snapshot = await self.jams.snapshot(jam_id)
            jam = snapshot.jam
            if jam.card_channel_id is None or jam.card_message_id is None:
                return
            message = self.bot.get_partial_messageable(jam.card_channel_id).get_partial_message(
                jam.card_message_id
            )
            await message.edit(embed=card_embed(snapshot), view=card_view(jam), allowed_mentions=NO_MENTIONS)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("could not update the card of jam %s", jam_id, exc_info=True)

    # --- errors --------------------------------------------------------------------------------

    async def cog_app_command_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        original: BaseException = error
        if isinstance(error, app_commands.CommandInvokeError):
            original = error.original
        await self._report_error(interaction, original)

    async def _report_error(self, interaction: discord.Interaction[Any], error: BaseException) -> None:
        await report_error(interaction, error, context="jam", edit_deferred=True)


def _channel(interaction: discord.Interaction[Any]) -> int:
    if interaction.channel_id is None:
        raise UserError("Jams live in a server channel.")
    return interaction.channel_id


async def setup(bot: PromptJamBot) -> None:
    """Extension entry point (`bot.load_extension("cogs.jams")`)."""
    await bot.add_cog(JamsCog(bot, bot.engine, bot.deliverer))
