"""The backends there are: their records, in the order menus list them, and the questions everyone asks.

Only this list names backends; lanes, the policy, delivery, menus, the CLI and settings validation read
the records. Records are light (services/backends/record.py): listing statuses never imports a backend
module, so `/music backends` and autocomplete stay cheap on the event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

from services.backends.abilities import Ability
from services.backends.base import Backend, BackendStatus
from services.backends.code.record import RECORD as CODE
from services.backends.musicgen.record import RECORD as MUSICGEN
from services.backends.notes.record import RECORD as NOTES
from services.backends.record import Lane, Record
from services.backends.riffusion.record import RECORD as RIFFUSION
from services.backends.song.record import RECORD as SONG
from services.backends.styles.record import RECORD as STYLES
from services.settings import Settings

_records: dict[str, Record] = {r.name: r for r in (STYLES, NOTES, RIFFUSION, CODE, SONG, MUSICGEN)}
_instances: dict[tuple[str, Hashable], Backend] = {}
_lock = threading.Lock()  # worker threads ask for backends concurrently


def register(record: Record) -> None:
    """Add a backend (tests register a test-only one); a name is taken once."""
    if record.name in _records:
        raise ValueError(f"a backend called {record.name!r} is already registered")
    _records[record.name] = record


def unregister(name: str) -> None:
    """Take a registered backend out again, with its shared instances."""
    _records.pop(name, None)
    with _lock:
        for key in [k for k in _instances if k[0] == name]:
            del _instances[key]


def records() -> list[Record]:
    return list(_records.values())


def names() -> tuple[str, ...]:
    return tuple(_records)


def record_for(name: str) -> Record | None:
    return _records.get(name)


def is_enabled(name: str, settings: Settings) -> bool:
    """ENABLED_BACKENDS names the backends the operator allows; unset, every backend is."""
    return name in _records and (settings.enabled_backends is None or name in settings.enabled_backends)


def enabled_records(settings: Settings) -> list[Record]:
    """The records of the backends ENABLED_BACKENDS allows, in registry order."""
    return [r for r in _records.values() if is_enabled(r.name, settings)]


def lane_of(name: str) -> Lane:
    """The lane a backend's jobs run in; a name no record has (a job of an older release) takes the CPU's."""
    found = _records.get(name)
    return found.lane if found is not None else Lane.CPU


def has_ability(name: str, ability: Ability) -> bool:
    found = _records.get(name)
    return found is not None and ability in found.abilities


def backends_taking(ability: Ability) -> list[str]:
    """The backends that have `ability` (start from audio, draw from a picture …), in registry order."""
    return [r.name for r in _records.values() if ability in r.abilities]


def backend_status(name: str, settings: Settings) -> BackendStatus:
    """One backend's status, with a reason a user can act on when it cannot run."""
    found = _records.get(name)
    if found is None:
        known = ", ".join(_records)
        # The name is what someone typed: callers show it (escaped), the reason does not repeat it.
        return BackendStatus(name, False, f"there is no backend called that (try one of: {known})")
    if not is_enabled(name, settings):
        return BackendStatus(
            name,
            False,
            "disabled on this bot (the operator can add it to ENABLED_BACKENDS)",
            found.description,
        )
    verdict = found.availability(settings)
    return BackendStatus(name, verdict.available, verdict.reason, found.description)


def all_statuses(settings: Settings) -> list[BackendStatus]:
    return [backend_status(name, settings) for name in _records]


def get_backend(name: str, settings: Settings) -> Backend:
    """The process-wide instance of a backend (models load once per process), keyed by its settings slice."""
    found = _records.get(name)
    if found is None:
        raise KeyError(name)
    key = found.instance_key(settings)
    with _lock:
        backend = _instances.get(key)
        if backend is None:
            backend = _instances[key] = found.build(settings)
        return backend
