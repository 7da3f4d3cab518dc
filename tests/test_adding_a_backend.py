"""Adding a backend is one record: a test-only sine backend, registered in one place and nowhere else, shows
up in `/music backends`, in `/music create backend:` autocomplete and in `promptjam backends`, passes
settings validation, and runs in the lane its record names — through the real bot and the job service.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main as promptjam
from services.audio.mp3 import decode_audio
from services.backends.record import Lane
from services.backends.registry import lane_of, register, unregister
from services.config import load_settings
from services.engine import Engine, RequestOptions
from services.errors import UserError
from services.jobs.models import JobState
from services.settings import Settings, SettingsError
from tests.conftest import running_bot
from tests.fakediscord import FakeDiscord, StoredMessage
from tests.sine_backend import FREQUENCY_HZ, dominant_hz, sine_record

RESULT_TIMEOUT = 90


def _has_mp3(m: StoredMessage) -> bool:
    return any(a.filename.endswith(".mp3") for a in m.attachments)


async def test_the_bot_lists_offers_and_runs_it_in_its_lane(
    sine: None, fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]
) -> None:
    fd = fake_discord
    guild = fd.add_guild("studio")
    channel = fd.add_text_channel(guild, "music")
    alice = fd.add_user("alice")
    async with running_bot(fd, settings_factory(discord_guild_id=guild.id)):
        listing = await fd.slash_command(alice, channel, "music backends")
        embed = (await listing.wait_response(timeout=5)).data["embeds"][0]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert fields["✅ sine"] == "A pure 440 Hz tone (a test-only backend)."

        auto = await fd.autocomplete(
            alice, channel, "music create", focused="backend", value="si", options={"prompt": "x"}
        )
        choices = (await auto.wait_response(timeout=5)).choices
        assert [c["value"] for c in choices] == ["sine"]
        assert "440 Hz tone" in choices[0]["name"]

        inter = await fd.slash_command(
            alice, channel, "music create", {"prompt": "a clean tone", "backend": "sine", "duration": 3}
        )
        done = await inter.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
    mp3 = next(a for a in done.attachments if a.filename.endswith(".mp3"))
    audio = decode_audio(done.file(mp3.filename))
    assert abs(audio.duration - 3.0) <= 0.5
    assert abs(dominant_hz(audio) - FREQUENCY_HZ) < 5.0  # the backend's own tone, through the whole chain
    embed_fields = {f["name"]: f["value"] for f in done.embeds[0]["fields"]}
    assert embed_fields["Backend"] == "sine"
    # the record says the model lane: threads of the bot's own process, apart from the CPU workers
    assert "thread promptjam-model" in embed_fields["What I understood"]
    assert f"process {os.getpid()}" in embed_fields["What I understood"]


@pytest.mark.parametrize(
    ("lane", "worker_mode", "thread"),
    [(Lane.MODEL, "process", "promptjam-model"), (Lane.CPU, "thread", "promptjam-job")],
)
async def test_the_job_service_runs_it_in_the_lane_its_record_names(
    settings_factory: Callable[..., Settings], lane: Lane, worker_mode: str, thread: str
) -> None:
    register(sine_record(lane))
    try:
        assert lane_of("sine") is lane
        settings = settings_factory(worker_mode=worker_mode)
        async with Engine(settings) as engine:  # the executors make_executor builds from the records
            request = engine.build_request(RequestOptions("a tone", backend="sine", duration_s=2), user_id=1)
            await engine.submit("s1", request)
            record = await asyncio.wait_for(engine.jobs.wait("s1"), RESULT_TIMEOUT)
    finally:
        unregister("sine")
    assert record.state is JobState.DONE and record.result is not None, record.error
    made_on = record.result.summary[-1]
    # In process mode the CPU lane is spawned workers, which never saw this test's registration: the
    # model lane's jobs run on threads here, which is where the record sends them.
    assert f"thread {thread}" in made_on and f"process {os.getpid()}" in made_on


def test_promptjam_backends_lists_it_and_settings_accept_its_name(
    sine: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATA_DIR", str(tmp_path))

    assert promptjam(["backends"]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("sine"))
    assert "yes" in lines[at] and "ready (440 Hz)" in lines[at]
    assert "440 Hz tone" in lines[at + 1]

    monkeypatch.setenv("ENABLED_BACKENDS", "styles,sine")
    assert load_settings().enabled_backends == ("styles", "sine")  # a registered name is a known name
    unregister("sine")
    with pytest.raises(SettingsError, match="ENABLED_BACKENDS.*sine"):
        load_settings()
    register(sine_record())  # for the fixture to take out again


async def test_a_backend_without_words_is_refused_for_a_text_job(
    settings_factory: Callable[..., Settings],
) -> None:
    """The policy reads abilities from the record: one that cannot start from words gets no text job."""
    register(dataclasses.replace(sine_record(), name="drone", abilities=frozenset()))
    try:
        settings = settings_factory()
        async with Engine(settings) as engine:
            request = engine.build_request(RequestOptions("a tone", backend="drone"), user_id=1)
            with pytest.raises(UserError, match="can't start from words"):
                await engine.submit("d1", request)
    finally:
        unregister("drone")
