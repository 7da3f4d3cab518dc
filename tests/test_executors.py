"""Lanes: model-backend jobs and CPU jobs have their own capacity and executors."""

from __future__ import annotations

from collections.abc import Callable

from services.jobs.executors import ProcessExecutor, RoutingExecutor, ThreadExecutor, make_executor
from services.jobs.service import lane_for
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
