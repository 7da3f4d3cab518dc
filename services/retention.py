"""How long each kind of data is kept, and the one sweep that deletes what is past it.

- finished jobs' rows: JOB_RETENTION_DAYS after they finished, once their outcome was posted or given up;
- ended jams with their contributions, votes and cached segments (DATA_DIR/jams/<jam>/): JAM_RETENTION_DAYS;
- users' attachments (DATA_DIR/inputs/<job>/): INPUT_RETENTION_HOURS after their job is done (Reroll,
  Variation and Extend remake from them); a failed or cancelled job's at once (the job service deletes it
  when the job ends; this sweep catches any left over);
- result folders (DATA_DIR/results/<job>/): RESULT_RETENTION_HOURS.

Never deleted: unfinished jobs and every file they use, finished jobs whose outcome is still to be posted
and their results, open jams and their segments. Folders nothing on record explains are deleted once
their files are older than their kind's retention. Rows go through the stores (aiosqlite works in its own
thread); files are deleted in a worker thread: never on the event loop.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, fields
from pathlib import Path

from services.inputs import input_folder
from services.jams.store import JamStore
from services.jobs.models import JobRecord, JobState
from services.jobs.store import JobStore
from services.settings import Settings

_HOUR = 3600.0
_DAY = 86_400.0


@dataclass(frozen=True)
class Pruned:
    """What one sweep deleted."""

    jobs: int = 0  # job rows
    jams: int = 0  # ended jams, with their contributions and votes
    jam_caches: int = 0  # folders of cached jam segments
    inputs: int = 0  # folders of users' attachments
    results: int = 0  # result folders

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def __str__(self) -> str:
        parts = [f"{getattr(self, f.name)} {f.name.replace('_', ' ')}" for f in fields(self)]
        return ", ".join(parts)


class Retention:
    """Deletes data past its retention; the engine calls `prune()` every PRUNE_INTERVAL_S."""

    def __init__(self, settings: Settings, jobs: JobStore, jams: JamStore | None) -> None:
        self.settings = settings
        self.jobs = jobs
        self.jams = jams

    async def prune(self, now: float | None = None) -> Pruned:
        """One sweep over every kind of data; `now` lets tests stand at another time."""
        now = time.time() if now is None else now
        s = self.settings
        # Read what is in use first: anything that starts later is too new for any cutoff below.
        unfinished = await self.jobs.unfinished()
        undelivered = await self.jobs.undelivered()
        busy = {r.job_id for r in unfinished} | {r.job_id for r in undelivered}
        results = await asyncio.to_thread(
            _prune_old_folders, s.results_dir, now - s.result_retention_hours * _HOUR, busy
        )
        inputs = await self._prune_inputs(now - s.input_retention_hours * _HOUR, unfinished)
        jams, jam_caches = await self._prune_jams(now - s.jam_retention_days * _DAY, unfinished)
        jobs = await self.jobs.prune_finished(now - s.job_retention_days * _DAY)
        return Pruned(jobs=jobs, jams=jams, jam_caches=jam_caches, inputs=inputs, results=results)

    async def _prune_inputs(self, cutoff: float, unfinished: list[JobRecord]) -> int:
        root = self.settings.inputs_dir
        keep = {input_folder(root, r.job_id).name for r in unfinished}
        # A derived job (Reroll…) reads its parent's attachment: the parent's folder stays while it waits.
        keep |= {Path(r.request.input_path).parent.name for r in unfinished if r.request.input_path}
        folders = await asyncio.to_thread(_folders, root)
        states = await self.jobs.states(folders)  # a folder is named after its job
        doomed = []
        for name, modified in folders.items():
            if name in keep:
                continue
            state = states.get(name)
            if state is None:  # no job on record (its row was pruned, or never was): judge by age
                if modified < cutoff:
                    doomed.append(name)
                continue
            job_state, finished_at = state
            if not job_state.finished:
                continue  # started after `unfinished` was read
            if job_state in (JobState.FAILED, JobState.CANCELLED):
                doomed.append(name)  # nothing can remake a failed piece
            elif (finished_at if finished_at is not None else modified) < cutoff:
                doomed.append(name)
        return await asyncio.to_thread(_remove, (root / name for name in doomed))

    async def _prune_jams(self, cutoff: float, unfinished: list[JobRecord]) -> tuple[int, int]:
        if self.jams is None:
            return 0, 0
        from services.jams.cache import jam_dir  # here, not at the top: it brings scipy, unneeded elsewhere

        data = self.settings.data_dir
        rendering = {r.request.jam.jam_id for r in unfinished if r.request.jam is not None}
        old = [jam_id for jam_id in await self.jams.ended_before(cutoff) if jam_id not in rendering]
        staying = (await self.jams.jam_ids() - set(old)) | rendering
        keep = {jam_dir(data, jam_id).name for jam_id in staying}  # two ids may share a folder name
        caches = await asyncio.to_thread(
            _prune_jam_caches, data / "jams", {jam_dir(data, j).name for j in old}, keep, cutoff
        )
        # Folders first: a crash in between leaves rows without a cache (re-rendered if ever needed),
        # never a cache that no row would ever explain.
        jams = await self.jams.delete_ended(old)
        return jams, caches


def _folders(root: Path) -> dict[str, float]:
    """Sub-folders of `root` and when each last changed (none if `root` is missing)."""
    found: dict[str, float] = {}
    if not root.is_dir():
        return found
    for child in root.iterdir():
        try:
            if child.is_dir():
                found[child.name] = child.stat().st_mtime
        except FileNotFoundError:
            continue  # deleted meanwhile
    return found


def _remove(folders: Iterable[Path]) -> int:
    removed = 0
    for folder in folders:
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            removed += not folder.exists()
    return removed


def _prune_old_folders(root: Path, cutoff: float, keep: Collection[str]) -> int:
    """Delete folders of `root` last changed before `cutoff`, except those named in `keep`."""
    return _remove(
        root / name for name, modified in _folders(root).items() if name not in keep and modified < cutoff
    )


def _prune_jam_caches(root: Path, ended: set[str], keep: set[str], cutoff: float) -> int:
    """Delete the caches of jams past retention, and caches no jam on record explains once they are old."""
    doomed = [
        root / name
        for name, modified in _folders(root).items()
        if name not in keep and (name in ended or modified < cutoff)
    ]
    return _remove(doomed)
