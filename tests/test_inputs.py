"""Fetching attachments (services/inputs.py) from the fake Discord CDN over loopback, fault by fault.

Every network failure must become its own clear sentence; the byte cap must hold whatever the server
claims; nothing may wait longer than the stall or total deadline.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from services.errors import DownloadFailed
from services.inputs import PARALLEL_DOWNLOADS, InputFetcher, stage_input
from services.settings import Settings
from tests.fakediscord import CdnFault, FakeDiscord

FILE = bytes(range(256)) * 40  # 10 KiB


@pytest.fixture
async def fetcher(settings_factory: Callable[..., Settings]) -> AsyncIterator[InputFetcher]:
    inputs = InputFetcher(
        settings_factory(attachment_stall_s=0.5, attachment_timeout_s=20, image_max_bytes=64 * 1024)
    )
    yield inputs
    await inputs.close()


async def _fail(fetcher: InputFetcher, url: str) -> str:
    with pytest.raises(DownloadFailed) as caught:
        await asyncio.wait_for(fetcher.fetch(url), 30)  # a guard against hanging, not a speed check
    return caught.value.message


async def test_a_good_file_arrives_whole(fake_discord: FakeDiscord, fetcher: InputFetcher) -> None:
    att = fake_discord.attachment("a.png", FILE)
    assert await fetcher.fetch(att.url) == FILE
    chunked = fake_discord.attachment("b.png", FILE, fault=CdnFault(chunked=True, chunk_size=1000))
    assert await fetcher.fetch(chunked.url) == FILE  # no Content-Length needed


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (CdnFault(status=503), "file server had a problem (503)"),
        (CdnFault(status=500), "file server had a problem (500)"),
        (CdnFault(status=404), "no longer has that file"),
        (CdnFault(status=403), "no longer has that file"),
        (CdnFault(status=429), "slow down"),
        (CdnFault(status=302), "wouldn't hand over your file (302)"),  # never follow a redirect
        (CdnFault(stall_after=0), "stopped sending your file (nothing arrived for 0.5 s)"),
        (CdnFault(stall_after=3000), "stopped sending your file"),
        (CdnFault(drop_after=3000), "connection to Discord dropped"),
        (CdnFault(drop_after=3000, chunked=True, chunk_size=1000), "connection to Discord dropped"),
        (CdnFault(content_length=len(FILE) + 5000), "connection to Discord dropped"),  # claims more
    ],
)
async def test_each_fault_gets_its_own_clear_message(
    fake_discord: FakeDiscord, fetcher: InputFetcher, fault: CdnFault, expected: str
) -> None:
    att = fake_discord.attachment("a.png", FILE, fault=fault)
    assert expected in await _fail(fetcher, att.url)
    # The same fetcher keeps working once the CDN behaves.
    fake_discord.cdn.fault(att, None)
    assert await fetcher.fetch(att.url) == FILE


async def test_the_byte_cap_holds_whatever_the_server_claims(
    fake_discord: FakeDiscord, fetcher: InputFetcher
) -> None:
    big = bytes(200 * 1024)
    # No Content-Length at all: the cap is counted while streaming (the declared size lies too).
    streamed = fake_discord.attachment(
        "big.png", big, declared_size=10, fault=CdnFault(chunked=True, chunk_size=4096)
    )
    assert "over 64 KB, the most I can take" in await _fail(fetcher, streamed.url)
    # A Content-Length over the cap is believed (refusing early is safe): nothing more is read.
    declared = fake_discord.attachment("big2.png", big, fault=CdnFault(content_length=len(big)))
    assert "over 64 KB" in await _fail(fetcher, declared.url)
    assert fake_discord.cdn.hits[declared.id] == 1


async def test_a_trickle_that_never_stalls_still_ends_at_the_total_deadline(
    fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]
) -> None:
    inputs = InputFetcher(settings_factory(attachment_stall_s=2.0, attachment_timeout_s=1.0))
    try:
        att = fake_discord.attachment("slow.png", FILE, fault=CdnFault(chunk_size=100, chunk_delay_s=0.2))
        assert "took longer than 1 s" in await _fail(inputs, att.url)
    finally:
        await inputs.close()


async def test_empty_unreachable_and_odd_links(fake_discord: FakeDiscord, fetcher: InputFetcher) -> None:
    empty = fake_discord.attachment("empty.png", b"")
    assert "empty" in await _fail(fetcher, empty.url)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert "couldn't reach Discord" in await _fail(fetcher, f"http://127.0.0.1:{port}/attachments/1/2/a.png")
    for odd in ("file:///etc/passwd", "ftp://cdn.discordapp.com/a.png", "http://user@127.0.0.1/a.png"):
        assert "not one I can download" in await _fail(fetcher, odd)


async def test_a_burst_of_downloads_holds_only_a_few_files_at_once(
    fake_discord: FakeDiscord, fetcher: InputFetcher
) -> None:
    burst = [fake_discord.attachment(f"{i}.png", FILE, fault=CdnFault(stall_after=0)) for i in range(6)]
    tasks = [asyncio.create_task(_fail(fetcher, att.url)) for att in burst]

    def started() -> int:
        return sum(fake_discord.cdn.hits[att.id] for att in burst)

    while started() < PARALLEL_DOWNLOADS:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    assert started() == PARALLEL_DOWNLOADS  # the rest wait for a slot (their deadlines not yet running)
    messages = await asyncio.gather(*tasks)
    assert started() == len(burst)
    assert all("stopped sending your file" in m for m in messages)


def test_staging_writes_the_whole_file_under_the_jobs_folder(tmp_path: Path) -> None:
    path = Path(stage_input(tmp_path, "123/../evil", b"data"))
    assert path.read_bytes() == b"data"
    assert path.parent.parent == tmp_path and path.parent.name == "123evil"
    assert not list(path.parent.glob("*.part"))
