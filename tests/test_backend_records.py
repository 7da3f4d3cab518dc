"""The records and the backends they describe agree: names, abilities and their Protocols, availability,
and the typed settings slice that decides when a backend is shared."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.backends.abilities import Ability, BridgesSeams, DrawsFromImage, RestylesAudio, Sings
from services.backends.base import BackendUnavailable
from services.backends.registry import backend_status, get_backend, records
from services.settings import Settings

PROTOCOLS = {
    Ability.AUDIO_IN: RestylesAudio,
    Ability.IMAGE_IN: DrawsFromImage,
    Ability.TRANSITION: BridgesSeams,
    Ability.LYRICS: Sings,
}


def test_every_record_builds_a_backend_that_has_what_it_declares(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory()
    built = 0
    for record in records():
        try:
            backend = record.build(settings)
        except BackendUnavailable as exc:  # a placeholder: it says so, and its status says so too
            assert "not built yet" in str(exc)
            assert "not built yet" in backend_status(record.name, settings).reason
            continue
        except ImportError:  # a model backend whose packages this host lacks
            continue
        built += 1
        assert backend.name == record.name
        for ability, protocol in PROTOCOLS.items():
            assert (ability in record.abilities) == isinstance(backend, protocol), (record.name, ability)
        # one availability check: what the backend says is what /music backends says
        status = backend_status(record.name, settings)
        mine = backend.available()
        assert (mine.available, mine.reason.removeprefix(f"{record.name}: ")) == (
            status.available,
            status.reason,
        ), record.name
    assert built >= 4


def test_the_settings_slice_decides_when_a_backend_is_shared(
    settings_factory: Callable[..., Settings], tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = settings_factory()
    styles = get_backend("styles", settings)
    assert get_backend("styles", settings_factory()) is styles  # equal settings, one instance
    # a setting styles does not read shares it; one it reads makes another
    assert get_backend("styles", settings.model_copy(update={"riffusion_steps": 3})) is styles
    assert get_backend("styles", settings.model_copy(update={"embeddings_enabled": False})) is not styles
    notes = get_backend("notes", settings)
    assert get_backend("notes", settings.model_copy(update={"llm_model": "another"})) is not notes
    assert get_backend("notes", settings.model_copy(update={"code_cpu_s": 5})) is notes


def test_disabled_and_unknown_backends_say_so(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(enabled_backends="styles")
    assert "ENABLED_BACKENDS" in backend_status("notes", settings).reason
    assert backend_status("styles", settings).available
    unknown = backend_status("kazoo", settings)
    assert not unknown.available and "no backend called that" in unknown.reason
    assert all(r.name in unknown.reason for r in records())
