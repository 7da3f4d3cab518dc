"""Reading the settings at start-up: Settings from the environment, then what no single field can check.

Why not in services/settings.py: whether ENABLED_BACKENDS and DEFAULT_BACKEND name real backends is the
registry's to say, and the registry (through the backends' typed settings slices) imports Settings.
Settings stays the leaf every module imports; this module sits above both.
"""

from __future__ import annotations

from pydantic import ValidationError

from services.backends.registry import is_enabled, names
from services.settings import Settings, SettingsError


def load_settings(**overrides: object) -> Settings:
    """Read settings; on failure raise SettingsError with one line naming the bad setting."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "_".join(str(p) for p in first["loc"]).upper() or "settings"
        msg = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"setting {name} is invalid: {msg}") from None
    known = names()
    for setting, chosen in (
        ("ENABLED_BACKENDS", settings.enabled_backends or ()),
        ("REMOTE_BACKENDS", settings.remote_backends),
        ("WORKER_BACKENDS", settings.worker_backends),
    ):
        unknown = [name for name in chosen if name not in known]
        if unknown:
            raise SettingsError(
                f"setting {setting} is invalid: unknown backend(s) {', '.join(unknown)}; "
                f"choose from {', '.join(known)}"
            )
    if settings.default_backend not in known:
        raise SettingsError(
            f"setting DEFAULT_BACKEND is invalid: there is no backend {settings.default_backend!r}; "
            f"choose from {', '.join(known)}"
        )
    if not is_enabled(settings.default_backend, settings):
        raise SettingsError(
            f"setting DEFAULT_BACKEND is invalid: {settings.default_backend!r} is not in ENABLED_BACKENDS"
        )
    if settings.default_duration_s > settings.max_duration_s:
        raise SettingsError("setting DEFAULT_DURATION_S is invalid: it is longer than MAX_DURATION_S")
    if settings.delivery_retry_base_s > settings.delivery_retry_max_s:
        raise SettingsError(
            "setting DELIVERY_RETRY_BASE_S is invalid: it is longer than DELIVERY_RETRY_MAX_S"
        )
    return settings
