"""riffusion through the bot, on a tiny random-weight model loaded through the real loading path."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("diffusers")

from services.audio.mp3 import decode_audio  # noqa: E402
from services.settings import Settings  # noqa: E402
from tests.conftest import running_bot  # noqa: E402
from tests.fakediscord import FakeDiscord, StoredMessage  # noqa: E402
from tests.tiny_models import build_tiny_model, wav_bytes  # noqa: E402

TIMEOUT = 180


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-riffusion"))


def _done(m: StoredMessage) -> bool:
    return any(a.filename.endswith(".mp3") for a in m.attachments)


@pytest.fixture
async def bot_world(
    fake_discord: FakeDiscord, settings_factory: Callable[..., Settings], tiny_model: Path
) -> AsyncIterator[tuple[FakeDiscord, object, object]]:
    guild = fake_discord.add_guild("studio")
    channel = fake_discord.add_text_channel(guild, "riffs")
    alice = fake_discord.add_user("alice")
    settings = settings_factory(
        discord_guild_id=guild.id,
        riffusion_model=str(tiny_model),
        riffusion_steps=2,
        riffusion_batch_wait_ms=0,
        correct_to_stated=False,  # random weights have no tempo or key worth correcting
    )
    async with running_bot(fake_discord, settings):
        yield fake_discord, channel, alice


async def test_text_to_spectrogram_to_mp3(bot_world: tuple[FakeDiscord, object, object]) -> None:
    fd, channel, alice = bot_world
    backends = await fd.slash_command(alice, channel, "music backends")  # type: ignore[arg-type]
    embed = (await backends.wait_response(timeout=5)).data["embeds"][0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert any("riffusion" in name and "✅" in name for name in fields)

    inter = await fd.slash_command(
        alice, channel, "music create",  # type: ignore[arg-type]
        {"prompt": "funky drums and bass, 100 bpm", "backend": "riffusion", "duration": 5, "seed": 3},
    )
    assert (await inter.wait_response(timeout=5)).type == 5
    done = await inter.wait_original_edit(timeout=TIMEOUT, predicate=_done)
    mp3 = next(a for a in done.attachments if a.filename.endswith(".mp3"))
    assert abs(decode_audio(done.file(mp3.filename)).duration - 5) <= 0.5
    preview = Image.open(io.BytesIO(done.file("preview.png")))
    assert preview.size == (512, 512)  # riffusion's own spectrogram is the picture
    history = [rev.content for rev in done.history]
    assert any("🎼" in text for text in history)  # progress was shown before the result
    understood = {f["name"]: f["value"] for f in done.embeds[0]["fields"]}["What I understood"]
    assert "beat at 100 bpm" in understood

    # Extend walks on from where the piece ended (riffusion's interpolation), not from the start.
    extend = await fd.click_button(alice, done, f"pj:extend:{inter.id}")  # type: ignore[arg-type]
    extended = await extend.wait_original_edit(timeout=TIMEOUT, predicate=_done)
    fields = {f["name"]: f["value"] for f in extended.embeds[0]["fields"]}
    assert int(fields["Seed"]) > 3
    assert "walking seeds from" in fields["What I understood"]


async def test_audio_to_audio_and_img2img(bot_world: tuple[FakeDiscord, object, object]) -> None:
    fd, channel, alice = bot_world
    inter = await fd.slash_command(
        alice, channel, "music create",  # type: ignore[arg-type]
        {"prompt": "make it jazz", "duration": 4, "audio": ("my riff.wav", wav_bytes(3.0))},
    )
    done = await inter.wait_original_edit(timeout=TIMEOUT, predicate=_done)
    understood = {f["name"]: f["value"] for f in done.embeds[0]["fields"]}["What I understood"]
    assert "your audio" in understood

    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 40, 40)).save(buf, "PNG")
    pic = await fd.slash_command(
        alice, channel, "music image",  # type: ignore[arg-type]
        {"image": ("red.png", buf.getvalue()), "mode": "img2img", "prompt": "warm guitar", "duration": 4},
    )
    made = await pic.wait_original_edit(timeout=TIMEOUT, predicate=_done)
    assert "your picture" in {f["name"]: f["value"] for f in made.embeds[0]["fields"]}["What I understood"]

    wrong = await fd.slash_command(
        alice, channel, "music create",  # type: ignore[arg-type]
        {"prompt": "x", "backend": "styles", "audio": ("a.wav", wav_bytes(1.0))},
    )
    answer = await wrong.wait_response(timeout=5)
    assert answer.ephemeral and "riffusion" in (answer.content or "")


def _zero_channel_wav() -> bytes:
    """A WAV whose header says 0 channels (it used to answer "integer division or modulo by zero")."""
    good = wav_bytes(1.0)
    return good[:22] + b"\x00\x00" + good[24:]


async def test_corrupt_audio_gets_a_friendly_failure_and_the_bot_carries_on(
    bot_world: tuple[FakeDiscord, object, object],
) -> None:
    fd, channel, alice = bot_world
    picture = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 90, 200)).save(picture, "PNG")
    for name, data, words in (
        ("broken.wav", _zero_channel_wav(), "says it has 0 channels"),
        ("photo.wav", picture.getvalue(), "it is a PNG picture"),
        ("silence.mp3", b"", "empty"),
    ):
        inter = await fd.slash_command(
            alice, channel, "music create",  # type: ignore[arg-type]
            {"prompt": "make it jazz", "duration": 4, "audio": (name, data)},
        )
        failed = await inter.wait_original_edit(timeout=TIMEOUT, predicate=lambda m: "❌" in m.content)
        assert words in failed.content, (name, failed.content)
        for leaked in ("error id", "went wrong", "division", "Traceback", "Errno", "ValueError"):
            assert leaked not in failed.content, (name, failed.content)
        assert not _done(failed)

    inter = await fd.slash_command(
        alice, channel, "music create",  # type: ignore[arg-type]
        {"prompt": "make it jazz", "duration": 4, "audio": ("fine.wav", wav_bytes(2.0))},
    )
    done = await inter.wait_original_edit(timeout=TIMEOUT, predicate=_done)
    assert "your audio" in {f["name"]: f["value"] for f in done.embeds[0]["fields"]}["What I understood"]
