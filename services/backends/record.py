"""A backend is one record: what it is, where its jobs run, what it can do, if it can run, how to build it.

Each backend package declares its record in a light `record.py` (no torch, no diffusers, no model code),
and the registry (services/backends/registry.py) holds them. Everything else — job lanes, the policy,
delivery, autocomplete, `/music backends`, `promptjam backends`, settings validation — reads records, so
adding a backend is writing one package and listing its record once.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from services.backends.abilities import Ability
from services.backends.base import Availability, Backend, BackendUnavailable
from services.settings import Settings

NOT_BUILT = "not built yet in this version of promptjam"


class Lane(enum.StrEnum):
    """Which workers a backend's jobs use; each lane has its own capacity."""

    MODEL = "model"  # worker threads sharing one loaded model (torch releases the GIL), batched there
    CPU = "cpu"  # worker processes (WORKER_MODE): pure-Python work that would hold the bot's GIL


C = TypeVar("C", bound=Hashable)


@dataclass(frozen=True)
class BackendRecord(Generic[C]):
    """Everything the bot knows about a backend without importing its module.

    `config` is the backend's typed slice of Settings (a frozen dataclass): the factory builds from it,
    the check reads it, and it is the key under which one instance is shared per process, so a setting
    that changes what the backend loads makes a new instance and nothing else does.
    """

    name: str  # as typed in /music create backend:<name>
    description: str  # one line for /music backends, autocomplete and `promptjam backends`
    lane: Lane
    abilities: frozenset[Ability]
    config: Callable[[Settings], C]  # Settings → this backend's slice
    check: Callable[[C], Availability]  # cheap (no model load, no torch import): can it run here?
    factory: Callable[[C], Backend]  # builds the backend, importing its heavy module on first use
    first_estimate_s: float = 10.0  # a job's run time guessed before any has finished (queue ETAs)

    def availability(self, settings: Settings) -> Availability:
        return self.check(self.config(settings))

    def instance_key(self, settings: Settings) -> tuple[str, Hashable]:
        return (self.name, self.config(settings))

    def build(self, settings: Settings) -> Backend:
        return self.factory(self.config(settings))


class Record(Protocol):
    """A BackendRecord seen from outside, whatever its settings slice's type (what the registry holds)."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def lane(self) -> Lane: ...
    @property
    def abilities(self) -> frozenset[Ability]: ...
    @property
    def first_estimate_s(self) -> float: ...

    def availability(self, settings: Settings) -> Availability: ...

    def instance_key(self, settings: Settings) -> tuple[str, Hashable]: ...

    def build(self, settings: Settings) -> Backend: ...


@dataclass(frozen=True)
class NoSettings:
    """The slice of a backend that reads no settings (placeholders)."""


def _no_settings(settings: Settings) -> NoSettings:
    return NoSettings()


def _not_built(config: NoSettings) -> Availability:
    return Availability(False, NOT_BUILT)


def placeholder(name: str, description: str, lane: Lane, abilities: frozenset[Ability]) -> Record:
    """The record of a backend whose issue has not landed: listed everywhere, says so, never runs."""

    def refuse(config: NoSettings) -> Backend:
        raise BackendUnavailable(f"{name}: {NOT_BUILT}")

    return BackendRecord(name, description, lane, abilities, _no_settings, _not_built, refuse)
