"""Users' attachments, fetched for their jobs: time-limited, size-capped, every failure said plainly.

Why here and not in a cog: the job is recorded *before* its attachment is downloaded, so a crash or a
restart mid-download loses nothing; the job service fetches (and re-fetches after a restart) through
this module. Only URLs a cog vetted as Discord's own media reach it; it still refuses anything that is
not plain http(s), never follows redirects (a vetted host must not bounce us elsewhere), and counts
every byte itself instead of believing Content-Length.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from urllib.parse import urlparse

import aiohttp

from services.errors import DownloadFailed, UserError
from services.settings import Settings

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".mp3", ".wav", ".ogg", ".oga", ".opus", ".flac")
_CHUNK = 64 * 1024
PARALLEL_DOWNLOADS = 4  # files fetched at once: each is held in memory (up to IMAGE_MAX_BYTES) until staged
_GONE = frozenset({401, 403, 404, 410})  # Discord answers these for deleted files and expired links


def _size(size: int) -> str:
    """25 MB, 1.5 MB, 64 KB: a size as people read it."""
    if size >= 2**20:
        return f"{size / 2**20:.1f}".removesuffix(".0") + " MB"
    return f"{max(1, round(size / 1024))} KB"


def check_declared_size(size: int | None, limit: int) -> None:
    """Refuse before anything is downloaded when the file is already known to be too big."""
    if size is not None and size > limit:
        raise UserError(f"That file is {_size(size)}; the most I can take is {_size(limit)}.")


def check_audio_name(name: str | None) -> None:
    """Audio input is recognised by its file name (the bytes are checked by the decoder later)."""
    if not (name or "").lower().endswith(AUDIO_SUFFIXES):
        raise UserError("Attach an audio file (mp3, wav, ogg or flac).")


def input_folder(inputs_dir: Path, job_id: str) -> Path:
    """Where a job's own attachment is staged: DATA_DIR/inputs/<job id, made safe as a name>/."""
    safe_id = "".join(ch for ch in job_id if ch.isalnum() or ch in "-_")[:40] or "job"
    return inputs_dir / safe_id


def stage_input(inputs_dir: Path, job_id: str, data: bytes) -> str:
    """Save a job's attachment for its worker; returns the path. Blocking: call it in a thread."""
    folder = input_folder(inputs_dir, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "input.bin"
    partial = folder / "input.part"
    partial.write_bytes(data)
    partial.replace(path)  # a crash mid-write never leaves a half file where the worker looks
    return str(path)


def discard_input(inputs_dir: Path, job_id: str) -> bool:
    """Delete a job's staged attachment, if any; True if there was one. Blocking: call it in a thread."""
    folder = input_folder(inputs_dir, job_id)
    if not folder.is_dir():
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True


class InputFetcher:
    """Downloads attachments with one shared HTTP session; `close()` when done."""

    def __init__(self, settings: Settings) -> None:
        self.limit = settings.image_max_bytes
        self.total_s = settings.attachment_timeout_s
        self.stall_s = settings.attachment_stall_s
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(PARALLEL_DOWNLOADS)  # a burst waits here, before its deadlines start

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                # A fresh connection per download: a server that sent more than it declared cannot
                # leave bytes behind for the next download to misread.
                connector=aiohttp.TCPConnector(force_close=True),
                timeout=aiohttp.ClientTimeout(total=None),  # our own deadlines below say which one hit
                auto_decompress=False,
                trust_env=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: str) -> bytes:
        """The file's bytes, or DownloadFailed with a sentence the user can act on."""
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.username:
            raise DownloadFailed("That file's link is not one I can download from. Please attach it again.")
        async with self._slots:
            return await self._fetch_in_time(url)

    async def _fetch_in_time(self, url: str) -> bytes:
        overall = asyncio.timeout(self.total_s)
        try:
            async with overall:
                return await self._download(url)
        except TimeoutError:
            if overall.expired():
                raise DownloadFailed(
                    f"Downloading your file from Discord took longer than {self.total_s:g} s, so I stopped. "
                    "Please try again in a moment."
                ) from None
            raise DownloadFailed(
                f"Discord stopped sending your file (nothing arrived for {self.stall_s:g} s). "
                "Please try again in a moment."
            ) from None

    def _too_big(self) -> DownloadFailed:
        return DownloadFailed(f"That file is over {_size(self.limit)}, the most I can take.")

    async def _download(self, url: str) -> bytes:
        step = asyncio.timeout(self.stall_s)  # rescheduled after every byte that arrives
        loop = asyncio.get_running_loop()
        started = False  # whether Discord answered at all: "couldn't reach" vs "dropped"
        try:
            async with step:
                response = await self._open().get(
                    url, allow_redirects=False, headers={"Accept-Encoding": "identity"}
                )
                async with response:
                    started = True
                    _check_status(response.status)
                    if response.content_length is not None and response.content_length > self.limit:
                        raise self._too_big()  # believed only when it says "too big": refusing is safe
                    data = bytearray()
                    while chunk := await response.content.read(_CHUNK):
                        data += chunk
                        if len(data) > self.limit:
                            raise self._too_big()
                        step.reschedule(loop.time() + self.stall_s)
        except (aiohttp.ClientError, ConnectionError) as exc:
            log.info("attachment download failed: %s", type(exc).__name__)
            if started:
                raise DownloadFailed(
                    "The connection to Discord dropped while I was downloading your file. Please try again."
                ) from None
            raise DownloadFailed(
                "I couldn't reach Discord to download your file. Please try again in a moment."
            ) from None
        if not data:
            raise DownloadFailed("That file is empty — there is nothing in it for me to hear.")
        return bytes(data)


def _check_status(status: int) -> None:
    if status == 200:
        return
    if status in _GONE:
        raise DownloadFailed(
            "Discord no longer has that file (it was deleted, or its link expired). Please attach it again."
        )
    if status == 429:
        raise DownloadFailed("Discord is asking me to slow down right now. Please try again in a minute.")
    if status >= 500:
        raise DownloadFailed(
            f"Discord's file server had a problem ({status}) sending your file. Please try again in a moment."
        )
    raise DownloadFailed(f"Discord wouldn't hand over your file ({status}). Please attach it again.")
