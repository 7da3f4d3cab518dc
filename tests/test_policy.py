"""The policy gate (services/policy.py) at the service seam: every path into the job service passes it.

Requests are built here as plain data, the way a button, a jam or a restored record hands them over,
so nothing a cog checks can stand in for the gate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from services.backends.code.sandbox.isolation import detect
from services.engine import Engine, RequestOptions
from services.errors import NotAllowed, UserError
from services.jams.service import JamOptions, JamService
from services.jobs.models import JamPlan, JamSegment, MusicRequest
from services.settings import Settings
from tests.conftest import GatedExecutor

GUILD = 42
needs_code = pytest.mark.skipif(not detect().isolation.strong, reason="code cannot run on this host")


@pytest.fixture
async def engine(settings_factory: Callable[..., Settings]) -> AsyncIterator[Engine]:
    settings = settings_factory(openai_base_url="http://127.0.0.1:9/v1", user_jobs_per_minute=100)
    async with Engine(settings, executor=GatedExecutor(settings)) as opened:  # nothing ever runs
        yield opened


async def test_a_code_job_for_a_server_with_code_off_is_refused_at_submit(engine: Engine) -> None:
    request = MusicRequest(prompt="a hum", backend="code", guild_id=GUILD, user_id=1)
    with pytest.raises(NotAllowed, match="allow-code"):
        await engine.jobs.submit("j1", request)
    with pytest.raises(NotAllowed, match="allow-code"):
        engine.jobs.admit(request, reserve="j1")
    assert await engine.jobs.get("j1") is None  # nothing was recorded
    in_a_dm = MusicRequest(prompt="a hum", backend="code", guild_id=None, user_id=1)
    with pytest.raises(NotAllowed, match="direct messages"):
        await engine.jobs.submit("j2", in_a_dm)

    await engine.guilds.set_code_enabled(GUILD, True)
    engine.jobs.policy.check(request)  # the admins' switch is what decides


@needs_code
async def test_the_switch_is_checked_again_at_submit(engine: Engine) -> None:
    """A request admitted while code was on (the cog deferring) meets the switch turned off meanwhile."""
    request = MusicRequest(prompt="a hum", backend="code", guild_id=GUILD, user_id=1)
    await engine.guilds.set_code_enabled(GUILD, True)
    engine.jobs.admit(request, reserve="j3")
    await engine.guilds.set_code_enabled(GUILD, False)
    with pytest.raises(NotAllowed):
        await engine.jobs.submit("j3", request)
    engine.jobs.release("j3")
    assert await engine.jobs.get("j3") is None


async def test_the_operator_at_the_command_line_may_use_every_enabled_backend(engine: Engine) -> None:
    policy = engine.jobs.policy
    policy.check(MusicRequest(prompt="a hum", backend="code", guild_id=None, origin="cli"))
    request = engine.build_request(RequestOptions("calm piano", backend="styles"), origin="cli")
    assert request.origin == "cli"
    record = await engine.submit("cli-1", request)
    assert record.request.origin == "cli"
    # A disabled backend stays disabled for everyone, the operator included.
    with pytest.raises(UserError, match="no backend called"):
        await engine.submit("cli-2", MusicRequest(prompt="x", backend="kazoo", origin="cli"))


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (MusicRequest(prompt="restyle", backend="styles", input_kind="audio", guild_id=GUILD), "riffusion"),
        (
            MusicRequest(prompt="", backend="styles", input_kind="image", image_mode="img2img"),
            "riffusion",
        ),
        (MusicRequest(prompt="x" * 1001, backend="styles"), "1,001 characters"),
        (MusicRequest(prompt="   ", backend="styles"), "prompt is empty"),
        (MusicRequest(prompt="long", backend="styles", duration_s=10_000), "Duration must be between"),
    ],
)
async def test_input_and_limit_rules_hold_for_requests_that_skip_the_cogs(
    engine: Engine, request_: MusicRequest, expected: str
) -> None:
    with pytest.raises(UserError, match=expected):
        await engine.jobs.submit("r1", request_)
    assert await engine.jobs.get("r1") is None


async def test_a_jam_render_is_checked_like_any_job(engine: Engine) -> None:
    plan = JamPlan("jam1", "", 120.0, "C major", 2, 4, 1.0, (JamSegment(1, "hum", 3, 1, "alice"),))
    render = MusicRequest(prompt="Prompt jam (1 prompt)", backend="code", guild_id=GUILD, jam=plan)
    with pytest.raises(NotAllowed, match="allow-code"):
        await engine.jobs.submit("jam-play", render)


async def test_a_code_jam_cannot_open_where_code_is_off(engine: Engine) -> None:
    settings = engine.settings
    async with JamService(settings, settings.database_file, policy=engine.policy) as jams:
        with pytest.raises(NotAllowed, match="allow-code"):
            await jams.start(
                "j1", JamOptions(backend="code"), guild_id=GUILD, channel_id=7, starter_id=1, starter_name="a"
            )
        assert await jams.get("j1") is None
        if detect().isolation.strong:  # where code can run at all, the admins' switch opens it
            await engine.guilds.set_code_enabled(GUILD, True)
            jam = await jams.start(
                "j2", JamOptions(backend="code"), guild_id=GUILD, channel_id=7, starter_id=1, starter_name="a"
            )
            assert jam.backend == "code"
