"""A finished job as Redis values: the outcome in JSON and its files as bytes, in one hash.

The worker's files live on its own disk; the bot writes the same names under its own results folder, so a
MusicResult that crossed machines reads exactly like one made here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from services.jobs.models import MusicResult

OUTCOME_FIELD = b"outcome"
FILE_PREFIX = "file:"

Status = Literal["done", "failed", "cancelled"]


@dataclass(frozen=True)
class Outcome:
    """What a worker reports for one job. `kind`/`message`/`values`/`details` describe a failure as the
    in-process executors do (services/jobs/executors.py): "user" messages are ours and shown, "internal" ones
    go to the bot's log with an error id."""

    status: Status
    result: MusicResult | None = None
    kind: str = ""
    message: str = ""
    values: dict[str, str] = field(default_factory=dict)
    details: str | None = None
    worker: str = ""  # which worker made it (logs)


def pack(outcome: Outcome, results_dir: Path) -> dict[bytes, bytes]:
    """The hash fields for `outcome`: paths become names inside the job folder; files ride along."""
    fields: dict[bytes, bytes] = {}
    body: dict[str, object] = {
        "status": outcome.status,
        "kind": outcome.kind,
        "message": outcome.message,
        "values": outcome.values,
        "details": outcome.details,
        "worker": outcome.worker,
    }
    if outcome.result is not None:
        result = outcome.result
        job_dir = results_dir / result.job_id
        relative = {}
        for path in _paths(result):
            name = Path(path).resolve().relative_to(job_dir.resolve()).as_posix()
            relative[path] = name
            fields[(FILE_PREFIX + name).encode()] = Path(path).read_bytes()
        body["result"] = json.loads(result.to_json())
        body["files"] = relative
    fields[OUTCOME_FIELD] = json.dumps(body).encode()
    return fields


def unpack(fields: dict[bytes, bytes], results_dir: Path, job_id: str) -> Outcome:
    """A stored outcome, its files written under `results_dir/job_id/` and its paths pointing there."""
    body = json.loads(fields[OUTCOME_FIELD])
    result = None
    if body.get("result") is not None:
        job_dir = results_dir / job_id
        job_dir.mkdir(parents=True, exist_ok=True)
        remote = MusicResult.from_json(json.dumps(body["result"]))
        renamed: dict[str, str] = {}
        for remote_path, name in body.get("files", {}).items():
            target = (job_dir / name).resolve()
            if not target.is_relative_to(job_dir.resolve()):  # a name that climbs out: refuse it
                raise ValueError(f"a worker sent a file outside the job's folder: {name!r}")
            target.write_bytes(fields[(FILE_PREFIX + name).encode()])
            renamed[remote_path] = str(target)
        result = _relocated(remote, renamed, job_id)
    return Outcome(
        status=body["status"],
        result=result,
        kind=body.get("kind", ""),
        message=body.get("message", ""),
        values=dict(body.get("values") or {}),
        details=body.get("details"),
        worker=body.get("worker", ""),
    )


def _paths(result: MusicResult) -> list[str]:
    stems = [path for _, path in result.stems]
    paths = [result.mp3_path, result.preview_path, result.midi_path, *result.attachments, *stems]
    return list(dict.fromkeys(p for p in paths if p))


def _relocated(result: MusicResult, renamed: dict[str, str], job_id: str) -> MusicResult:
    def moved(path: str | None) -> str | None:
        return renamed.get(path, path) if path else path

    return replace(
        result,
        job_id=job_id,
        mp3_path=renamed[result.mp3_path],
        preview_path=moved(result.preview_path),
        midi_path=moved(result.midi_path),
        attachments=tuple(renamed[p] for p in result.attachments),
        stems=tuple((name, renamed[p]) for name, p in result.stems),
    )
