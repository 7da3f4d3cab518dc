"""Job kinds: derived from the request's fields, so rows stored by the previous release read back as the kind
they were, and each kind has its one handler."""

from __future__ import annotations

import json

import pytest

from services.jobs.kinds import HANDLERS
from services.jobs.models import JobKind, MusicRequest

# Requests as the previous release stored them in the jobs table (no `kind` field anywhere).
STORED = {
    JobKind.TEXT: {"prompt": "calm piano", "backend": "styles", "seed": 3, "continue_from": ["calm", 4]},
    JobKind.AUDIO: {
        "prompt": "make it jazz",
        "backend": "riffusion",
        "input_kind": "audio",
        "input_path": "/data/inputs/j1/input",
        "input_name": "riff.wav",
    },
    JobKind.IMAGE: {"prompt": "", "backend": "styles", "input_kind": "image", "image_mode": "sonify"},
    JobKind.SONG: {"prompt": "ballad", "backend": "song", "song": {"task": "sing", "lyrics": "[verse]\nla"}},
    JobKind.JAM: {
        "prompt": "Prompt jam (1 prompt)",
        "backend": "styles",
        "jam": {
            "jam_id": "j",
            "theme": "",
            "bpm": 120.0,
            "key": "C major",
            "bars": 2,
            "beats_per_bar": 4,
            "crossfade_beats": 1.0,
            "segments": [
                {"contribution_id": 1, "prompt": "hum", "seed": 3, "author_id": 1, "author_name": "a"}
            ],
        },
    },
}


@pytest.mark.parametrize("kind", list(JobKind))
def test_a_stored_row_reads_back_as_its_kind(kind: JobKind) -> None:
    request = MusicRequest.from_json(json.dumps(STORED[kind]))
    assert request.kind is kind
    assert MusicRequest.from_json(request.to_json()).kind is kind
    assert "kind" not in json.loads(request.to_json())  # the row format is unchanged


def test_every_kind_has_a_handler() -> None:
    assert set(HANDLERS) == set(JobKind)
