"""JamService rules (limits, votes, control) and the jam render (tempo, bar cuts, cache, credits, picture)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from services.backends.base import Generation, GenerationRequest, ProgressFn, no_progress
from services.backends.registry import get_backend
from services.errors import UserError
from services.guild_settings import GuildSettingsStore
from services.jams.models import ContributionState, JamState, VoteChoice
from services.jams.render import join_segments, render_segments
from services.jams.service import JamOptions, JamService
from services.jams.timeline import PALETTE
from services.jams.timing import piece_length_s
from services.jobs.models import MusicRequest
from services.jobs.work import run_job
from services.policy import Policy
from services.settings import Settings
from tests.conftest import make_settings

CHANNEL = 100


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path / "data", embeddings_enabled=False, jam_max_per_user=2, jam_max_contributions=4
    )


@pytest.fixture
async def jams(settings: Settings) -> AsyncIterator[JamService]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with GuildSettingsStore(settings.database_file) as guilds:
        async with JamService(settings, settings.database_file, policy=Policy(settings, guilds)) as service:
            yield service


async def _start(jams: JamService, channel: int = CHANNEL, **options: object) -> str:
    opts = JamOptions(**{"bpm": 120, "bars": 2, "key": "A minor", **options})  # type: ignore[arg-type]
    jam = await jams.start(
        f"jam{channel}", opts, guild_id=1, channel_id=channel, starter_id=1, starter_name="alice"
    )
    return jam.id


async def test_one_open_jam_per_channel_even_when_two_starts_race(jams: JamService) -> None:
    results = await asyncio.gather(
        jams.start("a", JamOptions(), guild_id=1, channel_id=5, starter_id=1, starter_name="alice"),
        jams.start("b", JamOptions(), guild_id=1, channel_id=5, starter_id=2, starter_name="bob"),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, UserError)]
    assert len(errors) == 1 and "already an open jam" in errors[0].message
    jam = await jams.jam_in(5)
    assert jam.state is JamState.OPEN and jam.bpm == 100 and jam.key == "C major" and jam.bars == 4


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"bpm": 300}, "between 40 and 240"),
        ({"key": "Q major"}, "don't know the key"),
        ({"bars": 16, "bpm": 40}, "segments between"),
        ({"theme": "x" * 200}, "under 100"),
        ({"backend": "kazoo"}, "no backend called"),
    ],
)
async def test_bad_start_options_are_explained(
    jams: JamService, options: dict[str, object], expected: str
) -> None:
    values: dict[str, object] = {"bpm": 120, "bars": 2, **options}
    with pytest.raises(UserError, match=expected):
        await jams.start("j", JamOptions(**values), guild_id=1, channel_id=7, starter_id=1, starter_name="a")  # type: ignore[arg-type]


async def test_limits_per_user_and_per_jam(jams: JamService) -> None:
    await _start(jams)
    await jams.add(CHANNEL, "flute", author_id=2, author_name="bob")
    await jams.add(CHANNEL, "drums", author_id=2, author_name="bob")
    with pytest.raises(UserError, match="limit is 2"):
        await jams.add(CHANNEL, "more", author_id=2, author_name="bob")
    await jams.add(CHANNEL, "piano", author_id=3, author_name="carol")
    await jams.add(CHANNEL, "bass", author_id=4, author_name="dave")
    with pytest.raises(UserError, match="jam is full"):
        await jams.add(CHANNEL, "harp", author_id=5, author_name="erin")
    with pytest.raises(UserError, match="empty"):
        await jams.add(CHANNEL, "   ", author_id=5, author_name="erin")
    with pytest.raises(UserError, match="no jam here"):
        await jams.add(999, "harp", author_id=5, author_name="erin")


async def test_simultaneous_adds_get_distinct_positions(jams: JamService, settings: Settings) -> None:
    await _start(jams)
    added = await asyncio.gather(
        *(jams.add(CHANNEL, f"part {i}", author_id=10 + i, author_name=f"u{i}") for i in range(4))
    )
    assert sorted(c.position for _, c in added) == [1, 2, 3, 4]


async def test_remove_own_latest_or_anything_as_moderator(jams: JamService) -> None:
    await _start(jams)
    _, flute = await jams.add(CHANNEL, "flute", author_id=2, author_name="bob")
    _, drums = await jams.add(CHANNEL, "drums", author_id=2, author_name="bob")
    _, piano = await jams.add(CHANNEL, "piano", author_id=3, author_name="carol")
    with pytest.raises(UserError, match="only remove your own.*bob's"):
        await jams.remove(CHANNEL, flute.id, user_id=3, is_moderator=False)
    _, latest = await jams.remove(CHANNEL, None, user_id=2, is_moderator=False)
    assert latest.id == drums.id and latest.state is ContributionState.REMOVED
    _, modded = await jams.remove(CHANNEL, piano.id, user_id=9, is_moderator=True)
    assert modded.state is ContributionState.REMOVED
    with pytest.raises(UserError, match="already removed"):
        await jams.remove(CHANNEL, piano.id, user_id=3, is_moderator=False)
    snapshot = await jams.snapshot(f"jam{CHANNEL}")
    assert [c.prompt for c in snapshot.active] == ["flute"]


async def test_votes_are_one_per_user_changeable_and_drop_or_restore(jams: JamService) -> None:
    await _start(jams)
    _, part = await jams.add(CHANNEL, "glitch", author_id=2, author_name="bob")
    _, first = await jams.vote(part.id, user_id=3, choice=VoteChoice.SKIP)
    _, again = await jams.vote(part.id, user_id=3, choice=VoteChoice.SKIP)  # the same user: still one skip
    assert again.tally.skips == 1 and again.contribution.state is ContributionState.ACTIVE
    _, dropped = await jams.vote(part.id, user_id=4, choice=VoteChoice.SKIP)
    assert dropped.changed_state and dropped.contribution.state is ContributionState.DROPPED
    _, tie = await jams.vote(part.id, user_id=5, choice=VoteChoice.KEEP)
    assert tie.contribution.state is ContributionState.DROPPED  # 2 skips > 1 keep
    _, changed = await jams.vote(part.id, user_id=4, choice=VoteChoice.KEEP)  # a mind changed
    assert changed.tally == type(changed.tally)(keeps=2, skips=1)
    assert changed.changed_state and changed.contribution.state is ContributionState.ACTIVE


async def test_play_and_end_are_for_the_starter_or_moderators(jams: JamService) -> None:
    jam_id = await _start(jams)
    with pytest.raises(UserError, match="Nothing to play"):
        await jams.play(CHANNEL, user_id=1, user_name="alice", is_moderator=False, upload_limit_bytes=1 << 20)
    await jams.add(CHANNEL, "flute", author_id=2, author_name="bob", seed=7)
    _, dropped = await jams.add(CHANNEL, "glitch", author_id=3, author_name="carol")
    await jams.add(CHANNEL, "piano", author_id=4, author_name="dave", seed=9)
    for voter in (5, 6):
        await jams.vote(dropped.id, user_id=voter, choice=VoteChoice.SKIP)
    with pytest.raises(UserError, match="starter \\(alice\\) or a moderator"):
        await jams.play(CHANNEL, user_id=2, user_name="bob", is_moderator=False, upload_limit_bytes=1 << 20)
    _, request = await jams.play(
        CHANNEL, user_id=2, user_name="bob", is_moderator=True, upload_limit_bytes=1 << 20
    )
    plan = request.jam
    assert plan is not None and not plan.final
    assert [(s.prompt, s.seed, s.author_name) for s in plan.segments] == [
        ("flute", 7, "bob"),
        ("piano", 9, "dave"),
    ]
    assert (plan.bpm, plan.key, plan.bars, plan.beats_per_bar, plan.segment_s) == (120, "A minor", 2, 4, 4.0)
    assert MusicRequest.from_json(request.to_json()) == request  # survives the jobs table

    ended, final = await jams.end(
        CHANNEL, user_id=1, user_name="alice", is_moderator=False, upload_limit_bytes=1 << 20
    )
    assert ended.state is JamState.ENDED and final is not None and final.jam is not None and final.jam.final
    with pytest.raises(UserError, match="already ended"):
        await jams.end(CHANNEL, user_id=1, user_name="alice", is_moderator=False, upload_limit_bytes=1 << 20)
    with pytest.raises(UserError, match="ended"):
        await jams.add(CHANNEL, "late", author_id=7, author_name="gus")
    with pytest.raises(UserError, match="votes are closed"):
        await jams.vote(dropped.id, user_id=8, choice=VoteChoice.KEEP)
    # A new jam may start in the channel once the old one ended.
    assert (
        await jams.start(
            "new", JamOptions(), guild_id=1, channel_id=CHANNEL, starter_id=2, starter_name="bob"
        )
    ).id == "new"
    assert jam_id != "new"


class RecordingBackend:
    """The real styles backend, remembering what it was asked and what it made."""

    name = "styles"
    description = "styles, recorded"

    def __init__(self, settings: Settings) -> None:
        self.inner = get_backend("styles", settings)
        self.calls: list[tuple[GenerationRequest, Generation]] = []

    def available(self) -> object:
        return self.inner.available()

    def generate(self, request: GenerationRequest, progress: ProgressFn) -> Generation:
        generation = self.inner.generate(request, progress)
        self.calls.append((request, generation))
        return generation


async def test_render_keeps_tempo_and_key_cuts_on_bars_and_reuses_the_cache(
    jams: JamService, settings: Settings
) -> None:
    await _start(jams)
    for author, prompt in ((2, "sunrise flute"), (3, "waltz strings in 3/4"), (2, "heavy drums")):
        await jams.add(CHANNEL, prompt, author_id=author, author_name=f"user{author}")
    _, request = await jams.play(
        CHANNEL, user_id=1, user_name="alice", is_moderator=False, upload_limit_bytes=10 << 20
    )
    plan = request.jam
    assert plan is not None
    backend = RecordingBackend(settings)

    first = render_segments(plan, "styles", backend, settings, no_progress, steps=5)  # type: ignore[arg-type]
    assert (first.rendered, first.reused) == (3, 0)
    for asked, made in backend.calls:
        assert (asked.bpm, asked.key, asked.duration_s) == (120, "A minor", 4.0)
        assert (made.tempo_bpm, made.key) == (120, "A minor")
    assert all(part.frames == round(4.0 * part.sample_rate) for part in first.parts)

    again = render_segments(plan, "styles", backend, settings, no_progress, steps=5)  # type: ignore[arg-type]
    assert (again.rendered, again.reused) == (0, 3) and len(backend.calls) == 3
    for a, b in zip(first.parts, again.parts, strict=True):
        assert (a.samples == b.samples).all()

    joined = join_segments(first.parts, plan, target_lufs=settings.target_lufs)
    rate = first.parts[0].sample_rate
    assert joined.frames == round(piece_length_s(3, 4.0, 0.5) * rate)


async def test_run_job_writes_the_jam_mp3_credits_and_timeline(jams: JamService, settings: Settings) -> None:
    await _start(jams, theme="dawn")
    await jams.add(CHANNEL, "sunrise *flute*", author_id=2, author_name="bob")
    await jams.add(CHANNEL, "lofi bass", author_id=3, author_name="carol")
    _, request = await jams.play(
        CHANNEL, user_id=1, user_name="alice", is_moderator=False, upload_limit_bytes=10 << 20
    )
    stages: list[str] = []
    result = await asyncio.to_thread(run_job, "job1", request, settings, lambda s, k, n: stages.append(s))
    assert result.credits == ("0:00–0:04 @bob — 'sunrise *flute*'", "0:04–0:08 @carol — 'lofi bass'")
    assert abs(result.duration_s - 7.5) <= 0.1
    assert (result.tempo_bpm, result.key, result.time_signature) == (120, "A minor", "4/4")
    assert result.mp3_filename == "jam-dawn.mp3" and Path(result.mp3_path).read_bytes()[:3] == b"ID3"
    assert "segment 1 of 2" in stages and "encoding MP3" in stages
    assert result.preview_path is not None
    picture = Image.open(io.BytesIO(Path(result.preview_path).read_bytes())).convert("RGB")
    lane_y = picture.height - 15
    assert picture.getpixel((picture.width // 4, lane_y)) == PALETTE[0]  # bob's colour
    assert picture.getpixel((picture.width * 3 // 4, lane_y)) == PALETTE[1]  # carol's colour
    cached = list((settings.data_dir / "jams" / f"jam{CHANNEL}").glob("*.wav"))
    assert len(cached) == 2
