"""What a failed post means for the next try (real discord.py errors from the fake Discord), and the waits."""

from __future__ import annotations

import io
import random
from collections.abc import AsyncIterator, Awaitable

import discord
import pytest

from cogs.delivery_errors import Failure, Undelivered, Verdict, classify
from services.jobs.retry import RetryPolicy
from tests.fakediscord import FakeDiscord


@pytest.fixture
async def client(fake_discord: FakeDiscord) -> AsyncIterator[discord.Client]:
    """A logged-in discord.py client (REST only, no gateway): its errors are the ones the bot sees."""
    bot = discord.Client(intents=discord.Intents.none())
    await bot.login(fake_discord.bot_token)
    yield bot
    await bot.close()


async def _raised(request: Awaitable[object]) -> Exception:
    try:
        await request
    except Exception as exc:
        return exc
    raise AssertionError("the request did not fail")


async def test_discord_answers_are_classified_for_the_next_try(
    fake_discord: FakeDiscord, client: discord.Client
) -> None:
    fd = fake_discord
    guild = fd.add_guild("g", filesize_limit=1000)
    channel = await client.fetch_channel(fd.add_text_channel(guild).id)
    assert isinstance(channel, discord.TextChannel)
    route = f"/channels/{channel.id}/messages"

    fd.fail("POST", route, status=503, times=1)
    outage = classify(await _raised(channel.send("x")), webhook=False)
    assert outage.verdict is Verdict.RETRY and outage.reason.startswith("503")

    fd.fail("POST", route, status=429, retry_after=0.05, times=5)  # more than discord.py's five tries
    limited = classify(await _raised(channel.send("x")), webhook=False)
    assert limited.verdict is Verdict.RETRY and limited.retry_after == pytest.approx(0.05)

    too_big = await _raised(channel.send(file=discord.File(io.BytesIO(b"x" * 1001), filename="a.mp3")))
    assert classify(too_big, webhook=False).verdict is Verdict.REFUSED
    assert "413" in classify(too_big, webhook=False).reason

    fd.fail("POST", route, status=403, times=1)
    forbidden = await _raised(channel.send("x"))
    assert classify(forbidden, webhook=False).verdict is Verdict.REFUSED  # no access to the channel
    assert classify(forbidden, webhook=True).verdict is Verdict.GONE  # the interaction's webhook is

    unknown = await _raised(discord.Webhook.partial(fd.application_id, "nope", client=client).send("x"))
    assert classify(unknown, webhook=True).verdict is Verdict.GONE
    assert classify(unknown, webhook=False).verdict is Verdict.REFUSED

    fd.fail("POST", route, drop=True, times=1)
    cut = classify(await _raised(channel.send("x")), webhook=False)
    assert cut.verdict is Verdict.RETRY and cut.reason.startswith("connection failed")

    assert classify(TimeoutError(), webhook=False).verdict is Verdict.RETRY
    bug = classify(ValueError("bad payload"), webhook=True)
    assert bug.verdict is Verdict.REFUSED and bug.unexpected
    known = Failure(Verdict.REFUSED, "token expired and no channel to post in")
    assert classify(Undelivered(known), webhook=True) is known


def test_waits_grow_to_the_cap_with_jitter_and_respect_retry_after() -> None:
    policy = RetryPolicy(base_s=1.0, max_s=20.0, give_up_s=60.0, rng=random.Random(7))
    for failures in range(1, 12):
        cap = min(20.0, 2.0 ** (failures - 1))
        waits = [policy.delay(failures) for _ in range(50)]
        assert all(cap / 2 <= w <= cap for w in waits)
        assert len(set(waits)) > 1  # jittered: jobs failing together do not come back together
    assert policy.delay(1, retry_after=7.5) >= 7.5
    assert policy.delay(10**6) <= 20.0  # no overflow however long the outage
    assert not policy.expired(1000.0, now=1059.0)
    assert policy.expired(1000.0, now=1060.0)
    assert not policy.expired(None, now=10**9)
