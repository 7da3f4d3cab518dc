"""The song backend through the bot: a tiny random-weight ACE-Step 1.5 loaded through the users' path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("diffusers")

from services.audio.mp3 import decode_audio, encode_mp3  # noqa: E402
from services.settings import Settings  # noqa: E402
from tests.conftest import running_bot  # noqa: E402
from tests.fakediscord import FakeDiscord, StoredMessage  # noqa: E402
from tests.fakeopenai import FakeOpenAI, Reply  # noqa: E402
from tests.tiny_models import build_tiny_song_model, wav_bytes  # noqa: E402

TIMEOUT = 180


@pytest.fixture(scope="module")
def tiny_song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_song_model(tmp_path_factory.mktemp("tiny-ace-step"))


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def _done(m: StoredMessage) -> bool:
    return any(a.filename.endswith(".mp3") for a in m.attachments)


def _fields(m: StoredMessage) -> dict[str, str]:
    return {f["name"]: f["value"] for f in m.embeds[0]["fields"]}


def _length(m: StoredMessage, name: str | None = None) -> float:
    mp3 = name or next(a.filename for a in m.attachments if a.filename.endswith(".mp3"))
    return decode_audio(m.file(mp3)).duration


def _mp3_upload(seconds: float) -> bytes:
    """A user's MP3: a plucked tone, encoded by the ffmpeg we ship."""
    return encode_mp3(decode_audio(wav_bytes(seconds), "wav"), 128)


def _studio(
    fd: FakeDiscord,
    settings_factory: Callable[..., Settings],
    tiny_song: Path,
    name: str,
    *,
    filesize_limit: int | None = None,
    **settings: Any,
) -> tuple[Any, Any, Settings]:
    """A server with a songs channel and alice, and settings for the tiny song model (2 steps, no wait)."""
    guild = fd.add_guild(name, filesize_limit=filesize_limit)
    made = settings_factory(
        discord_guild_id=guild.id,
        correct_to_stated=False,  # random weights have no tempo or key worth correcting
        acestep_model=str(tiny_song),
        acestep_steps=2,
        acestep_batch_wait_ms=0,
        **settings,
    )
    return fd.add_text_channel(guild, "songs"), fd.add_user("alice"), made


@pytest.fixture
async def world(
    fake_discord: FakeDiscord, settings_factory: Callable[..., Settings], tiny_song: Path, llm: FakeOpenAI
) -> AsyncIterator[tuple[FakeDiscord, object, object, FakeOpenAI]]:
    channel, alice, settings = _studio(
        fake_discord, settings_factory, tiny_song, "studio", openai_base_url=llm.base_url
    )
    async with running_bot(fake_discord, settings):
        yield fake_discord, channel, alice, llm


async def test_song_with_lyrics_then_repaint_stems_and_extend(
    world: tuple[FakeDiscord, object, object, FakeOpenAI],
) -> None:
    fd, channel, alice, _ = world
    inter = await fd.slash_command(
        alice,
        channel,
        "music song",  # type: ignore[arg-type]
        {
            "prompt": "dreamy synth-pop",
            "lyrics": "[verse] / neon rain on the *window* / [chorus] / stay",
            "bpm": 96,
            "key": "A minor",
            "timesig": "3/4",
            "duration": 12,
            "seed": 5,
        },
    )
    assert (await inter.wait_response(timeout=5)).type == 5
    song = await inter.wait_original_edit(timeout=TIMEOUT, predicate=_done)
    assert abs(_length(song) - 12) <= 0.5
    fields = _fields(song)
    assert "[verse]" in fields["Lyrics"].replace("\\", "") and "\\*window\\*" in fields["Lyrics"]
    assert "tempo 96 bpm" in fields["What I understood"] and "key A minor" in fields["What I understood"]
    assert "metre 3/4" in fields["What I understood"]
    ids = {c["custom_id"] for row in song.components for c in row["components"]}
    assert {f"pj:{a}:{inter.id}" for a in ("reroll", "extend", "repaint", "stems", "lyrics")} <= ids

    # Repaint: a modal takes the range and new words; the song keeps its length.
    click = await fd.click_button(alice, song, f"pj:repaint:{inter.id}")  # type: ignore[arg-type]
    assert (await click.wait_response(timeout=5)).type == 9
    bad = await fd.submit_modal(click, {"pj-repaint-start": "0:08", "pj-repaint-end": "0:05"})
    refused = await bad.wait_response(timeout=5)
    assert refused.ephemeral and "start before it ends" in (refused.content or "")
    click = await fd.click_button(alice, song, f"pj:repaint:{inter.id}")  # type: ignore[arg-type]
    await click.wait_response(timeout=5)
    sub = await fd.submit_modal(
        click,
        {"pj-repaint-start": "0:03", "pj-repaint-end": "0:06", "pj-repaint-words": "[verse]\nnew words"},
    )
    repainted = await sub.wait_original_edit(timeout=TIMEOUT, predicate=_done)
    assert abs(_length(repainted) - 12) <= 0.5
    assert "repainted 0:03–0:06" in _fields(repainted)["What I understood"]

    # Stems: vocals, drums, bass and other, each the song's length, in one message.
    stems = await fd.click_button(alice, song, f"pj:stems:{inter.id}")  # type: ignore[arg-type]
    split = await stems.wait_original_edit(timeout=TIMEOUT, predicate=_done)
    names = sorted(a.filename for a in split.attachments if a.filename.endswith(".mp3"))
    assert [n.rsplit("-", 1)[-1] for n in names] == ["bass.mp3", "drums.mp3", "other.mp3", "vocals.mp3"]
    for name in names:
        assert abs(_length(split, name) - 12) <= 0.5

    # Extend: the song continues; the reply is the whole, longer song.
    extend = await fd.click_button(alice, song, f"pj:extend:{inter.id}")  # type: ignore[arg-type]
    longer = await extend.wait_original_edit(timeout=TIMEOUT, predicate=_done)
    assert abs(_length(longer) - 24) <= 0.5  # 12 s of song + 12 s more (at most 30 s, at least 10 s)
    assert "continued for 12 s after 0:12" in _fields(longer)["What I understood"]


async def test_llm_writes_lyrics_and_cover_restyles_an_upload(
    world: tuple[FakeDiscord, object, object, FakeOpenAI],
) -> None:
    fd, channel, alice, llm = world
    llm.script(Reply.json({"lyrics": "[chorus]\nhello @everyone under <@123> skies\nla la"}))
    inter = await fd.slash_command(
        alice,
        channel,
        "music song",
        {"prompt": "sunny ukulele pop", "duration": 10},  # type: ignore[arg-type]
    )
    song = await inter.wait_original_edit(timeout=TIMEOUT, predicate=_done)
    lyrics = _fields(song)["Lyrics"]
    assert "skies" in lyrics and "<@123>" not in lyrics and "@everyone" not in lyrics
    assert '"request": "sunny ukulele pop"' in str(llm.completions()[0].body)  # the prompt went as data

    cover = await fd.slash_command(
        alice,
        channel,
        "music cover",  # type: ignore[arg-type]
        {"audio": ("my song.mp3", _mp3_upload(11.0)), "prompt": "jazz trio", "strength": 0.5},
    )
    covered = await cover.wait_original_edit(timeout=TIMEOUT, predicate=_done)
    assert abs(_length(covered) - 11) <= 0.5
    assert "cover of your audio, 50%" in _fields(covered)["What I understood"]

    broken = await fd.slash_command(
        alice,
        channel,
        "music cover",
        {"audio": ("x.mp3", b"not audio at all"), "prompt": "jazz"},  # type: ignore[arg-type]
    )
    failed = await broken.wait_original_edit(timeout=TIMEOUT, predicate=lambda m: "❌" in m.content)
    assert "Traceback" not in failed.content and not _done(failed)


@pytest.mark.parametrize(
    ("lyrics", "words"),
    [
        ("[verse] / [chorus]", "nothing to sing"),
        ("hi <@42> sing along", "can't contain mentions"),
        ("@everyone la la", "can't contain mentions"),
    ],
)
async def test_bad_lyrics_get_a_private_reason(
    world: tuple[FakeDiscord, object, object, FakeOpenAI], lyrics: str, words: str
) -> None:
    fd, channel, alice, _ = world
    inter = await fd.slash_command(
        alice,
        channel,
        "music song",
        {"prompt": "ballad", "lyrics": lyrics},  # type: ignore[arg-type]
    )
    answer = await inter.wait_response(timeout=5)
    assert answer.ephemeral and words in (answer.content or "")


async def test_long_lyrics_through_the_write_lyrics_modal(
    world: tuple[FakeDiscord, object, object, FakeOpenAI],
) -> None:
    fd, channel, alice, _ = world
    inter = await fd.slash_command(
        alice,
        channel,
        "music song",  # type: ignore[arg-type]
        {"prompt": "folk ballad", "write_lyrics": True, "duration": 10},
    )
    await inter.wait_response(timeout=5)
    too_long = await fd.submit_modal(inter, {"pj-song-lyrics": "la " * 1500})
    assert "keep them under" in ((await too_long.wait_response(timeout=5)).content or "")
    inter = await fd.slash_command(
        alice,
        channel,
        "music song",  # type: ignore[arg-type]
        {"prompt": "folk ballad", "write_lyrics": True, "duration": 10},
    )
    await inter.wait_response(timeout=5)
    words = "[verse]\nline one\nline two\n\n[chorus]\nsing it"
    sub = await fd.submit_modal(inter, {"pj-song-lyrics": words})
    done = await sub.wait_original_edit(timeout=TIMEOUT, predicate=_done)
    assert "line two" in _fields(done)["Lyrics"] and abs(_length(done) - 10) <= 0.5


async def test_a_small_upload_limit_lowers_the_bitrate_then_sends_stems_one_by_one(
    fake_discord: FakeDiscord, settings_factory: Callable[..., Settings], tiny_song: Path
) -> None:
    fd = fake_discord
    channel, alice, settings = _studio(fd, settings_factory, tiny_song, "small", filesize_limit=400 * 1024)
    async with running_bot(fd, settings):
        inter = await fd.slash_command(
            alice,
            channel,
            "music song",  # type: ignore[arg-type]
            {"prompt": "slow blues", "lyrics": "la la", "duration": 60, "seed": 1},
        )
        song = await inter.wait_original_edit(timeout=TIMEOUT, predicate=_done)
        assert abs(_length(song) - 60) <= 0.5  # a lower bitrate first, not a shorter song
        assert sum(len(song.file(a.filename)) for a in song.attachments) <= 400 * 1024
        assert any("Denoising" in rev.content for rev in song.history)  # progress per denoising step

        # Four 60 s stems can't share 400 KB at any bitrate: the first comes, the others are offered.
        stems = await fd.click_button(alice, song, f"pj:stems:{inter.id}")  # type: ignore[arg-type]
        split = await stems.wait_original_edit(timeout=TIMEOUT, predicate=_done)
        assert [a.filename.rsplit("-", 1)[-1] for a in split.attachments if a.filename.endswith(".mp3")] == [
            "vocals.mp3"
        ]
        assert "each comes on its own" in _fields(split)["Notes"]
        ids = {c["custom_id"] for row in split.components for c in row["components"]}
        assert ids == {f"pj:stem:{s}:{stems.id}" for s in ("drums", "bass", "other")}
        drums = await fd.click_button(alice, split, f"pj:stem:drums:{stems.id}")  # type: ignore[arg-type]
        sent = await drums.wait_response(timeout=30)
        assert sent.ephemeral
        (stem,) = sent.files
        assert stem.filename.endswith("-drums.mp3") and abs(decode_audio(stem.data).duration - 60) <= 0.5


async def test_a_song_longer_than_the_limit_allows_is_shortened_after_the_bitrate_and_said(
    fake_discord: FakeDiscord, settings_factory: Callable[..., Settings], tiny_song: Path
) -> None:
    fd = fake_discord
    channel, alice, settings = _studio(fd, settings_factory, tiny_song, "tiny", filesize_limit=200 * 1024)
    async with running_bot(fd, settings):
        inter = await fd.slash_command(
            alice,
            channel,
            "music song",
            {"prompt": "drone", "duration": 60},  # type: ignore[arg-type]
        )
        song = await inter.wait_original_edit(timeout=TIMEOUT, predicate=_done)
    assert 10 < _length(song) < 55
    assert "upload limit" in _fields(song)["Notes"]


async def test_song_buttons_work_after_a_restart(
    fake_discord: FakeDiscord, settings_factory: Callable[..., Settings], tiny_song: Path
) -> None:
    fd = fake_discord
    channel, alice, settings = _studio(fd, settings_factory, tiny_song, "studio")
    async with running_bot(fd, settings):
        inter = await fd.slash_command(
            alice,
            channel,
            "music song",  # type: ignore[arg-type]
            {"prompt": "sea shanty", "lyrics": "[chorus] / heave ho", "duration": 10},
        )
        song = await inter.wait_original_edit(timeout=TIMEOUT, predicate=_done)
    async with running_bot(fd, settings):  # a new process's worth of state: only the database remains
        click = await fd.click_button(alice, song, f"pj:lyrics:{inter.id}")  # type: ignore[arg-type]
        opened = await click.wait_response(timeout=10)
        assert opened.type == 9 and "heave ho" in str(opened.data)  # the modal holds the sung words
        sub = await fd.submit_modal(click, {"pj-song-lyrics": "[chorus]\nheave away"})
        again = await sub.wait_original_edit(timeout=TIMEOUT, predicate=_done)
    assert "heave away" in _fields(again)["Lyrics"]
    assert _fields(again)["Seed"] == _fields(song)["Seed"]  # the same song, new words
