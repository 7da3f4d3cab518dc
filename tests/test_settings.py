"""Settings: working defaults, one clear line per bad setting, secrets never echoed, .env.example complete."""

import re
from pathlib import Path

import pytest

from services.config import load_settings
from services.settings import Settings, SettingsError, require_token

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_need_nothing() -> None:
    s = load_settings()
    assert s.default_backend == "styles"
    assert s.discord_token is None
    assert s.database_file == Path("data/promptjam.sqlite3")


def test_env_example_lists_every_setting_with_a_loadable_default(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / ".env.example").read_text()
    keys = set(re.findall(r"^([A-Z0-9_]+)=", text, re.M))
    assert keys == {name.upper() for name in Settings.model_fields}
    s = Settings(_env_file=ROOT / ".env.example")  # type: ignore[call-arg]
    assert s.enabled_backends == ("styles", "notes", "riffusion", "code", "song", "musicgen")
    assert s.discord_guild_id is None


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("DISCORD_GUILD_ID", "not-a-number", "DISCORD_GUILD_ID"),
        ("MAX_DURATION_S", "100000", "MAX_DURATION_S"),
        ("ENABLED_BACKENDS", "styles,kazoo", "ENABLED_BACKENDS"),
        ("WORKER_MODE", "fibres", "WORKER_MODE"),
        ("DEFAULT_BACKEND", "notes", "DEFAULT_BACKEND"),
        ("DELIVERY_RETRY_BASE_S", "500", "DELIVERY_RETRY_BASE_S"),
        ("DELIVERY_ATTEMPT_TIMEOUT_S", "300", "DELIVERY_ATTEMPT_TIMEOUT_S"),
    ],
)
def test_a_bad_setting_stops_with_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(name, value)
    if name == "DEFAULT_BACKEND":
        monkeypatch.setenv("ENABLED_BACKENDS", "styles")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_missing_token_is_explained_and_a_token_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="DISCORD_TOKEN"):
        require_token(load_settings())
    secret = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GAbCdE.super-secret-token-value-xyz"
    monkeypatch.setenv("DISCORD_TOKEN", secret)
    s = load_settings()
    assert secret not in repr(s) and secret not in str(s.model_dump())
    assert require_token(s) == secret


def test_token_shaped_text_is_redacted_from_logs(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from bot.logging_setup import RedactSecrets

    secret = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GAbCdE.super-secret-token-value-xyz"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "connecting with %s", (secret,), None)
    RedactSecrets([secret]).filter(record)
    assert secret not in record.getMessage()
