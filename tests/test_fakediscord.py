"""The fake Discord, proven with a tiny bot run by the real discord.py client.

The tiny bot exercises what promptjam's cogs will: an app-command group with a nested group, defer + followup
with a file and a persistent button view, autocomplete, a message context menu, attachment options, ephemeral
errors, and the "token expired → post in the channel" fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakediscord import FakeDiscord, FakeGuild, StoredMessage

SONG = b"ID3" + bytes(range(256)) * 8  # stands in for an MP3; the bytes must arrive unchanged


class SongView(discord.ui.View):
    """Persistent (timeout=None, fixed custom_id) so a restarted bot still answers old messages."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Reroll", custom_id="tiny:reroll", style=discord.ButtonStyle.primary)
    async def reroll(self, interaction: discord.Interaction, button: discord.ui.Button[SongView]) -> None:
        bot = interaction.client
        assert isinstance(bot, TinyBot)
        await interaction.response.send_message(f"reroll by {interaction.user.name} on bot #{bot.generation}")

    @discord.ui.button(label="Like", custom_id="tiny:like", style=discord.ButtonStyle.secondary)
    async def like(self, interaction: discord.Interaction, button: discord.ui.Button[SongView]) -> None:
        button.disabled = True
        await interaction.response.edit_message(content="liked", view=self)


music = app_commands.Group(name="music", description="make music")
jam = app_commands.Group(name="jam", description="jam sessions", parent=music)
STYLES = ["ambient", "chiptune", "jazz", "lofi"]


@music.command(name="create", description="make a song")
@app_commands.describe(prompt="what to play", duration="seconds")
async def create(
    interaction: discord.Interaction,
    prompt: str,
    duration: app_commands.Range[int, 1, 60] = 10,
    style: str = "lofi",
) -> None:
    await interaction.response.defer(thinking=True)
    file = discord.File(io.BytesIO(SONG), filename="song.mp3")
    embed = discord.Embed(title=prompt, description=f"{duration}s of {style}")
    await interaction.followup.send(embed=embed, file=file, view=SongView())
    await interaction.followup.send("and a second followup", ephemeral=True)


@create.autocomplete("style")
async def style_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=s, value=s) for s in STYLES if s.startswith(current)]


@music.command(name="upload", description="describe an uploaded file")
async def upload(interaction: discord.Interaction, file: discord.Attachment) -> None:
    data = await file.read()
    await interaction.response.send_message(f"{file.filename}: {len(data)} bytes, starts {data[:4]!r}")


@music.command(name="limits", description="upload limits")
async def limits(interaction: discord.Interaction) -> None:
    assert interaction.guild is not None
    await interaction.response.send_message(
        f"{interaction.guild.filesize_limit} {interaction.filesize_limit}"
    )


@music.command(name="big", description="try to upload a file over the limit")
async def big(interaction: discord.Interaction, size: int) -> None:
    await interaction.response.defer()
    try:
        await interaction.followup.send(file=discord.File(io.BytesIO(b"x" * size), filename="big.bin"))
    except discord.HTTPException as exc:
        await interaction.followup.send(f"too big: {exc.status} {exc.code}")


@jam.command(name="add", description="add an idea to the jam")
async def jam_add(interaction: discord.Interaction, idea: str, bars: int = 4) -> None:
    await interaction.response.send_message(f"added {idea!r} for {bars} bars")


@app_commands.command(name="fail", description="always fails politely")
async def fail(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("that did not work", ephemeral=True)


@app_commands.command(name="slow", description="defers, then answers after its token may have expired")
async def slow(interaction: discord.Interaction) -> None:
    await interaction.response.defer()
    bot = interaction.client
    assert isinstance(bot, TinyBot)
    await bot.release_slow.wait()
    try:
        await interaction.edit_original_response(content="done in time")
    except discord.HTTPException as exc:
        assert interaction.channel is not None and isinstance(interaction.channel, discord.TextChannel)
        await interaction.channel.send(f"{interaction.user.mention} your result (token gone: {exc.status})")


@app_commands.command(name="jamthread", description="start a jam thread under the response")
async def jamthread(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("jam starts here")
    message = await interaction.original_response()
    thread = await message.create_thread(name="jam")
    await thread.send("first idea")
    assert isinstance(interaction.channel, discord.TextChannel)
    side = await interaction.channel.create_thread(name="side", type=discord.ChannelType.public_thread)
    await side.send("side idea")


class IdeaModal(discord.ui.Modal, title="Your idea"):
    idea: discord.ui.TextInput[IdeaModal] = discord.ui.TextInput(label="Idea", custom_id="idea")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"noted: {self.idea.value}")


@app_commands.command(name="idea", description="opens a modal")
async def idea(interaction: discord.Interaction) -> None:
    await interaction.response.send_modal(IdeaModal())


@app_commands.context_menu(name="Remix")
async def remix(interaction: discord.Interaction, message: discord.Message) -> None:
    sizes = [len(await a.read()) for a in message.attachments]
    await interaction.response.send_message(f"remixing {message.id} with {sizes}", ephemeral=True)


@app_commands.command(name="ping", description="guild-only command")
async def ping(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("pong")


class TinyBot(commands.Bot):
    """Syncs global commands and `ping` for one guild at setup, like a real bot would."""

    def __init__(self, guild: FakeGuild, generation: int = 1) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
        self.guild_object = discord.Object(id=guild.id)
        self.generation = generation
        self.release_slow = asyncio.Event()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before every re-IDENTIFY (Discord's identify rate limit); not needed here."""

    async def setup_hook(self) -> None:
        self.tree.add_command(music)
        self.tree.add_command(fail)
        self.tree.add_command(slow)
        self.tree.add_command(remix)
        self.tree.add_command(jamthread)
        self.tree.add_command(idea)
        self.tree.add_command(ping, guild=self.guild_object)
        self.add_view(SongView())
        await self.tree.sync()
        await self.tree.sync(guild=self.guild_object)


@contextlib.asynccontextmanager
async def running(fd: FakeDiscord, bot: TinyBot) -> AsyncIterator[TinyBot]:
    """Start `bot` against `fd`, wait until it is connected, and always close it cleanly."""
    started = time.monotonic()
    task = asyncio.create_task(bot.start(fd.bot_token))
    try:
        await fd.wait_commands_synced(guild_id=None, after=started, timeout=10)
        yield bot
    finally:
        await bot.close()
        await task


@pytest.fixture
async def world(fake_discord: FakeDiscord) -> AsyncIterator[tuple[FakeDiscord, TinyBot]]:
    guild = fake_discord.add_guild("studio", premium_tier=2)
    fake_discord.add_text_channel(guild, "general")
    fake_discord.add_user("alice")
    async with running(fake_discord, TinyBot(guild)) as bot:
        await fake_discord.wait_ready()
        await fake_discord.wait_commands_synced(guild_id=guild.id)
        yield fake_discord, bot


async def test_login_ready_and_sync(world: tuple[FakeDiscord, TinyBot]) -> None:
    fd, bot = world
    guild = next(iter(fd.store.guilds.values()))
    await asyncio.wait_for(bot.wait_until_ready(), 5)
    assert bot.user is not None and bot.user.id == fd.bot_user.id
    assert bot.application_id == fd.application_id
    assert [g.id for g in bot.guilds] == [guild.id]
    assert bot.guilds[0].filesize_limit == 50 * 1024 * 1024  # premium tier 2
    assert sorted(c.name for c in fd.commands()) == ["Remix", "fail", "idea", "jamthread", "music", "slow"]
    assert [c.name for c in fd.commands(guild.id)] == ["ping"]
    music_schema = next(c for c in fd.commands() if c.name == "music").data
    assert {o["name"] for o in music_schema["options"]} == {"create", "upload", "limits", "big", "jam"}
    assert fd.unhandled_requests == []


async def test_defer_followup_file_and_view(world: tuple[FakeDiscord, TinyBot]) -> None:
    fd, _ = world
    guild = next(iter(fd.store.guilds.values()))
    channel, alice = guild.channels[0], next(u for u in fd.store.users.values() if u.name == "alice")
    inter = await fd.slash_command(
        alice, channel, "music create", {"prompt": "rain on a tin roof", "duration": 12}
    )
    response = await inter.wait_response(timeout=5)
    assert response.type == 5 and not response.ephemeral and response.latency >= 0
    first = await inter.wait_followup(timeout=5, predicate=lambda m: bool(m.attachments))
    assert first.id == inter.original_message_id  # first followup after a defer replaces the loading message
    assert first.file("song.mp3") == SONG
    assert (
        first.embeds[0]["title"] == "rain on a tin roof" and first.embeds[0]["description"] == "12s of lofi"
    )
    assert [c["custom_id"] for c in first.components[0]["components"]] == ["tiny:reroll", "tiny:like"]
    second = await inter.wait_followup(timeout=5, predicate=lambda m: m.id != first.id)
    assert second.ephemeral and second.content == "and a second followup"
    # The CDN serves exactly what was uploaded.
    async with discord.http.aiohttp.ClientSession() as session:
        async with session.get(first.attachments[0].url) as resp:
            assert resp.status == 200 and await resp.read() == SONG
    # Public messages are visible in the channel; ephemeral ones are not listed.
    assert [m.id for m in fd.channel_messages(channel) if not m.ephemeral] == [first.id]

    click = await fd.click_button(alice, first, "tiny:like")
    update = await click.wait_response()
    assert update.type == 7
    edited = fd.message(first.id)
    assert edited.content == "liked" and edited.components[0]["components"][1]["disabled"] is True
    assert len(edited.edits) == 2  # the followup replacing the loading message, then the button's update


async def test_subcommand_group_autocomplete_and_ephemeral_error(world: tuple[FakeDiscord, TinyBot]) -> None:
    fd, _ = world
    guild = next(iter(fd.store.guilds.values()))
    channel, alice = guild.channels[0], next(u for u in fd.store.users.values() if u.name == "alice")
    added = await fd.slash_command(
        alice, channel, "music", {"idea": "walking bass", "bars": 8}, group="jam", subcommand="add"
    )
    assert (await added.wait_response()).content == "added 'walking bass' for 8 bars"

    auto = await fd.autocomplete(
        alice, channel, "music create", focused="style", value="j", options={"prompt": "x"}
    )
    answer = await auto.wait_response()
    assert answer.type == 8 and answer.choices == [{"name": "jazz", "value": "jazz"}]

    failed = await fd.slash_command(alice, channel, "fail")
    error = await failed.wait_response()
    assert error.type == 4 and error.ephemeral and error.content == "that did not work"

    opened = await fd.slash_command(alice, channel, "idea")
    assert (await opened.wait_response()).type == 9
    submitted = await fd.submit_modal(opened, {"idea": "a canon in D"})
    assert (await submitted.wait_response()).content == "noted: a canon in D"

    pinged = await fd.slash_command(alice, channel, "ping")
    assert (await pinged.wait_response()).content == "pong"
    with pytest.raises(LookupError):
        await fd.slash_command(alice, channel, "never-synced")
    with pytest.raises(ValueError):
        await fd.slash_command(alice, channel, "music create", {"no_such_option": 1})


async def test_attachment_option_and_message_context_menu(world: tuple[FakeDiscord, TinyBot]) -> None:
    fd, bot = world
    guild = next(iter(fd.store.guilds.values()))
    channel, alice = guild.channels[0], next(u for u in fd.store.users.values() if u.name == "alice")
    inter = await fd.slash_command(
        alice, channel, "music upload", {"file": ("hum.wav", b"RIFF" + b"\0" * 96)}
    )
    assert (await inter.wait_response()).content == "hum.wav: 100 bytes, starts b'RIFF'"

    heard = asyncio.ensure_future(bot.wait_for("message", check=lambda m: m.content == "my loop"))
    posted = await fd.user_message(
        alice, channel, "my loop", attachments=[fd.attachment("loop.ogg", b"OggS" * 10)]
    )
    assert (await asyncio.wait_for(heard, 5)).attachments[0].filename == "loop.ogg"  # MESSAGE_CREATE arrived
    remixed = await fd.message_command(alice, "Remix", posted)
    response = await remixed.wait_response()
    assert response.ephemeral and response.content == f"remixing {posted.id} with [40]"


async def test_threads(world: tuple[FakeDiscord, TinyBot]) -> None:
    fd, _ = world
    guild = next(iter(fd.store.guilds.values()))
    channel, alice = guild.channels[0], next(u for u in fd.store.users.values() if u.name == "alice")
    inter = await fd.slash_command(alice, channel, "jamthread")
    await inter.wait_response()
    side = await fd.store.changes.wait_until(
        lambda: next((c for c in guild.channels if c.name == "side" and fd.channel_messages(c)), None),
        5,
        lambda: "the side thread's first message",
    )
    jam = fd.channel(inter.original_message_id or 0)  # a thread started from a message shares its id
    assert jam.is_thread and jam.parent_id == channel.id and side.type == 11
    assert [m.content for m in fd.channel_messages(jam)] == ["first idea"]
    assert [m.content for m in fd.channel_messages(side)] == ["side idea"]


async def test_expired_token_falls_back_to_channel_message(world: tuple[FakeDiscord, TinyBot]) -> None:
    fd, bot = world
    guild = next(iter(fd.store.guilds.values()))
    channel, alice = guild.channels[0], next(u for u in fd.store.users.values() if u.name == "alice")
    inter = await fd.slash_command(alice, channel, "slow")
    assert (await inter.wait_response()).type == 5
    fd.expire_token(inter)
    bot.release_slow.set()
    fallback = await fd.wait_message(channel, lambda m: "your result" in m.content)
    assert f"<@{alice.id}>" in fallback.content and "token gone: 401" in fallback.content
    assert fallback.interaction_id is None and fallback.author.id == fd.bot_user.id
    assert inter.original is not None and not inter.original.edits  # the loading message never resolved


async def test_upload_limit_follows_guild_tier() -> None:
    async with FakeDiscord() as fd:
        guild = fd.add_guild("small", premium_tier=0, filesize_limit=1000)
        channel = fd.add_text_channel(guild)
        alice = fd.add_user("alice")
        with fd.patch_discord_py():
            async with running(fd, TinyBot(guild)):
                await fd.wait_ready()
                inter = await fd.slash_command(alice, channel, "music limits")
                assert (await inter.wait_response()).content == f"{10 * 1024 * 1024} 1000"
                big = await fd.slash_command(alice, channel, "music big", {"size": 1001})
                refused = await big.wait_followup()
                assert refused.content == "too big: 413 40005"


async def test_persistent_view_survives_restart_and_gateway_recovers(fake_discord: FakeDiscord) -> None:
    fd = fake_discord
    guild = fd.add_guild("studio")
    channel = fd.add_text_channel(guild)
    alice = fd.add_user("alice")
    async with running(fd, TinyBot(guild, generation=1)):
        await fd.wait_ready()
        inter = await fd.slash_command(alice, channel, "music create", {"prompt": "dawn"})
        song: StoredMessage = await inter.wait_followup(predicate=lambda m: bool(m.components))
        await inter.wait_followup(predicate=lambda m: m.ephemeral)  # the command has finished
    await fd.wait_disconnected()

    async with running(fd, TinyBot(guild, generation=2)) as bot:
        await fd.wait_identifies(2)
        assert {c.name for c in fd.commands()} == {"Remix", "fail", "idea", "jamthread", "music", "slow"}
        click = await fd.click_button(alice, song, "tiny:reroll")
        assert (await click.wait_response()).content == "reroll by alice on bot #2"

        # A dropped socket is resumed (same session, missed events replayed); an invalidated one identifies.
        session = fd.gateway.current
        assert session is not None
        await fd.drop_connection()
        await fd.store.changes.wait_until(lambda: session.resumes or None, 10, lambda: "a RESUME")
        await fd.request_reconnect()  # op 7: discord.py closes and resumes the same session
        await fd.store.changes.wait_until(lambda: session.resumes >= 2 or None, 10, lambda: "a second RESUME")
        again = await fd.click_button(alice, song, "tiny:reroll")
        assert (await again.wait_response()).content == "reroll by alice on bot #2"
        await fd.invalidate_session()
        await fd.wait_identifies(3)
        assert fd.gateway.current is not session
        last = await fd.slash_command(alice, channel, "fail")
        assert (await last.wait_response()).ephemeral

        # Heartbeats flow and are acknowledged (the fixture's interval is 1 s).
        seen = len(fd.heartbeats)
        await fd.store.changes.wait_until(
            lambda: len(fd.heartbeats) > seen or None, 10, lambda: "a heartbeat"
        )
        assert bot.latency != float("inf")
        assert fd.max_heartbeat_gap() > 0


async def test_errors_match_discord() -> None:
    """Double acknowledgement and unknown interactions fail the way discord.py expects from Discord."""
    async with FakeDiscord() as fd:
        guild = fd.add_guild()
        channel = fd.add_text_channel(guild)
        alice = fd.add_user("alice")
        with fd.patch_discord_py():
            async with running(fd, TinyBot(guild)) as bot:
                await fd.wait_ready()
                inter = await fd.slash_command(alice, channel, "fail")
                await inter.wait_response()
                webhook = discord.Webhook.partial(fd.application_id, inter.token, client=bot)
                fd.expire_token(inter)
                with pytest.raises(discord.HTTPException) as expired:
                    await webhook.send("late", wait=True)
                assert expired.value.status == 401 and expired.value.code == 50027
                with pytest.raises(discord.NotFound):
                    await bot.http.get_message(channel.id, 12345)


async def test_injected_faults_fail_matching_requests_until_spent(world: tuple[FakeDiscord, TinyBot]) -> None:
    fd, bot = world
    guild = next(iter(fd.store.guilds.values()))
    channel = bot.get_channel(guild.channels[0].id)
    assert isinstance(channel, discord.TextChannel)
    route = f"/channels/{channel.id}/messages"

    # 503 is not among the statuses discord.py's bot client retries: it raises at once.
    outage = fd.fail("POST", route, status=503, times=1)
    with pytest.raises(discord.DiscordServerError):
        await channel.send("first try")
    await channel.send("second try")
    assert len(outage.hits) == 1 and not outage.active

    # A 429 carries Discord's retry_after (and Via), so discord.py sleeps it and retries by itself.
    fd.fail("POST", route, status=429, retry_after=0.3, times=1)
    await channel.send("after a rate limit")
    limited, passed = fd.request_times("POST", route)[-2:]
    assert passed - limited >= 0.3

    # A connection cut while the upload is read: the client sees a reset, and nothing is posted.
    fd.fail("POST", route, drop=True, uploads_only=True)
    with pytest.raises((aiohttp.ClientError, OSError)):
        await channel.send(file=discord.File(io.BytesIO(SONG), filename="song.mp3"))
    await channel.send("text still goes through")  # uploads_only: JSON requests are not matched

    # A time-boxed fault ends by itself; stop() ends one early.
    fd.rest.faults.clear()
    window = fd.fail("GET", f"/channels/{channel.id}", status=503, seconds=0.2)
    with pytest.raises(discord.DiscordServerError):
        await bot.fetch_channel(channel.id)
    await asyncio.sleep(0.25)
    assert (await bot.fetch_channel(channel.id)).id == channel.id
    assert len(window.hits) == 1
    forever = fd.fail("GET", f"/channels/{channel.id}", status=503)
    with pytest.raises(discord.DiscordServerError):
        await bot.fetch_channel(channel.id)
    forever.stop()
    await bot.fetch_channel(channel.id)

    contents = [m.content for m in fd.channel_messages(guild.channels[0])]
    assert contents == ["second try", "after a rate limit", "text still goes through"]


async def test_enforced_nonce_posts_a_retried_send_once(world: tuple[FakeDiscord, TinyBot]) -> None:
    fd, bot = world
    guild = next(iter(fd.store.guilds.values()))
    channel = bot.get_channel(guild.channels[0].id)
    assert isinstance(channel, discord.TextChannel)
    first = await channel.send("your music", nonce="job-1")
    again = await channel.send("your music", nonce="job-1")
    other = await channel.send("your music", nonce="job-2")
    assert again.id == first.id and other.id != first.id
    assert [m.nonce for m in fd.channel_messages(guild.channels[0])] == ["job-1", "job-2"]
