"""The code backend's record: a language model writes sound code, run in a sandbox on the CPU.

RUNS_MODEL_CODE is what makes the policy keep it off in a server until its admins turn code on.
"""

from __future__ import annotations

from services.backends.abilities import Ability
from services.backends.base import Backend
from services.backends.code import availability
from services.backends.code.config import CodeConfig
from services.backends.record import BackendRecord, Lane


def build(config: CodeConfig) -> Backend:
    from services.backends.code.backend import CodeBackend  # prompting and checks load on first use

    return CodeBackend.from_config(config)


RECORD = BackendRecord(
    name="code",
    description="A language model writes sound code; we run it in a sandbox.",
    lane=Lane.CPU,
    abilities=frozenset({Ability.TEXT, Ability.RUNS_MODEL_CODE}),
    config=CodeConfig.from_settings,
    check=availability.check,
    factory=build,
)
