"""Lanes: model-backend jobs and CPU jobs have their own capacity and executors."""

from __future__ import annotations

from collections.abc import Callable

from services.backends.base import BackendUnavailable
from services.backends.registry import lane_of as lane_for
from services.errors import InvalidInput, UserError
from services.jobs.executors import (
    ProcessExecutor,
    RoutingExecutor,
    ThreadExecutor,
    _classify,
    make_executor,
)
from services.settings import Settings


def test_model_backends_get_their_own_lane() -> None:
    assert lane_for("riffusion") == "model" and lane_for("musicgen") == "model"
    assert lane_for("styles") == "cpu" and lane_for("notes") == "cpu"


def test_make_executor_routes_only_when_a_model_backend_is_enabled(
    settings_factory: Callable[..., Settings],
) -> None:
    routed = make_executor(settings_factory(worker_mode="process"))
    assert isinstance(routed, RoutingExecutor)
    assert isinstance(routed.cpu, ProcessExecutor) and isinstance(routed.model, ThreadExecutor)
    plain = make_executor(settings_factory(worker_mode="thread", enabled_backends="styles,notes"))
    assert isinstance(plain, ThreadExecutor)


def test_only_our_own_messages_are_user_facing() -> None:
    """UserError (InvalidInput included) and BackendUnavailable say what to do; anything else is a bug
    whose text stays in the log."""
    assert _classify(UserError("Pick a shorter prompt.")) == ("user", "Pick a shorter prompt.", {})
    assert _classify(InvalidInput("That WAV file is empty.")) == ("user", "That WAV file is empty.", {})
    typed = _classify(UserError("No key {key}.", key="[x](https://e.example)"))
    assert typed == ("user", "No key {key}.", {"key": "[x](https://e.example)"})  # values stay apart
    missing = "riffusion: weights not found"
    assert _classify(BackendUnavailable(missing)) == ("user", missing, {})
    for bug in (ValueError("invalid literal for int() with base 10: '²'"), ZeroDivisionError("division"),
                KeyError("styles"), IndexError("list index out of range")):  # fmt: skip
        kind, detail, values = _classify(bug)
        assert values == {}
        assert kind == "internal" and type(bug).__name__ in detail  # for the log, never for the user
