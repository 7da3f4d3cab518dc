"""Which backends exist, which are enabled, and how to build one.

Backend modules are imported lazily: listing statuses must stay cheap (no torch,
no diffusers) because `/music backends` and autocomplete call it on the event loop.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from services.backends.base import Backend, BackendStatus
from services.settings import ALL_BACKENDS, Settings


@dataclass(frozen=True)
class BackendInfo:
    """Static facts about a backend, known without importing it."""

    name: str  # as typed in /music create backend:<name>
    description: str  # one line for /music backends
    built: bool  # False for backends whose issue has not landed yet
    takes: frozenset[str] = frozenset()  # inputs it starts from besides text: "audio", "image" (img2img)


BACKENDS: dict[str, BackendInfo] = {
    "styles": BackendInfo(
        "styles",
        "Reads mood, genre, tempo and key from your words and composes a piece (CPU, no setup).",
        True,
    ),
    "notes": BackendInfo(
        "notes", "A language model writes every note; constraints checked and repaired.", True
    ),
    "riffusion": BackendInfo(
        "riffusion",
        "Stable Diffusion on spectrograms, from a beat at your tempo or your own audio.",
        True,
        takes=frozenset({"audio", "image"}),
    ),
    "code": BackendInfo("code", "A language model writes sound code; we run it in a sandbox.", True),
    "musicgen": BackendInfo("musicgen", "Meta's MusicGen text-to-music model.", False),
}


def backends_taking(kind: str) -> list[str]:
    """The backends that can start from a user's `kind` of input ("audio", "image"), in registry order."""
    return [info.name for info in BACKENDS.values() if kind in info.takes]


def _styles_status(settings: Settings) -> BackendStatus:
    info = BACKENDS["styles"]
    if importlib.util.find_spec("tinysoundfont") is None:
        return BackendStatus(
            "styles",
            False,
            "the synthesiser is not installed: run `pip install --no-deps tinysoundfont`",
            info.description,
        )
    from services.render.soundfont import find_soundfont

    try:
        find_soundfont(settings.soundfont_path)
    except (FileNotFoundError, ValueError) as exc:
        return BackendStatus("styles", False, f"no General MIDI SoundFont: {exc}", info.description)
    return BackendStatus("styles", True, "ready", info.description)


def backend_status(name: str, settings: Settings) -> BackendStatus:
    """One backend's status, with a reason a user can act on when it cannot run."""
    info = BACKENDS.get(name)
    if info is None:
        known = ", ".join(ALL_BACKENDS)
        # The name is what someone typed: callers show it (escaped), the reason does not repeat it.
        return BackendStatus(name, False, f"there is no backend called that (try one of: {known})")
    if name not in settings.enabled_backends:
        return BackendStatus(
            name,
            False,
            "disabled on this bot (the operator can add it to ENABLED_BACKENDS)",
            info.description,
        )
    if not info.built:
        return BackendStatus(name, False, "not built yet in this version of promptjam", info.description)
    if name == "styles":
        return _styles_status(settings)
    if name == "notes":
        return _notes_status(settings)
    if name == "riffusion":
        return _riffusion_status(settings)
    if name == "code":
        return _code_status(settings)
    return BackendStatus(name, False, "not built yet in this version of promptjam", info.description)


def _code_status(settings: Settings) -> BackendStatus:
    """LLM configured, and a sandbox that really isolates (probed once, then cached)."""
    from services.backends.code.backend import CodeBackend

    status = CodeBackend.from_settings(settings).available()
    return BackendStatus("code", status.available, status.reason, BACKENDS["code"].description)


def _riffusion_status(settings: Settings) -> BackendStatus:
    from services.backends.riffusion.availability import unavailable_reason

    info = BACKENDS["riffusion"]
    problem = unavailable_reason(settings.riffusion_model, settings.riffusion_revision)
    if problem is not None:
        return BackendStatus("riffusion", False, problem, info.description)
    return BackendStatus("riffusion", True, f"ready ({settings.riffusion_model})", info.description)


def _notes_status(settings: Settings) -> BackendStatus:
    info = BACKENDS["notes"]
    if settings.openai_api_key is None and not settings.openai_base_url:
        return BackendStatus(
            "notes",
            False,
            "no LLM configured: the operator sets OPENAI_API_KEY, or OPENAI_BASE_URL for a local "
            "OpenAI-compatible server (Ollama, vLLM, llama.cpp)",
            info.description,
        )
    synth = _styles_status(settings)  # the same synthesiser and SoundFont render the notes
    if not synth.available:
        return BackendStatus("notes", False, synth.reason, info.description)
    return BackendStatus("notes", True, f"ready (model {settings.llm_model})", info.description)


def all_statuses(settings: Settings) -> list[BackendStatus]:
    return [backend_status(name, settings) for name in BACKENDS]


def _build_styles(settings: Settings) -> Backend:
    from services.backends.styles.backend import StylesBackend

    return StylesBackend.from_settings(settings)


def _build_notes(settings: Settings) -> Backend:
    from services.backends.notes.backend import NotesBackend

    return NotesBackend.from_settings(settings)


def _build_code(settings: Settings) -> Backend:
    from services.backends.code.backend import CodeBackend

    return CodeBackend.from_settings(settings)


def _build_riffusion(settings: Settings) -> Backend:
    from services.backends.riffusion.backend import RiffusionBackend

    return RiffusionBackend.from_settings(settings)


_BUILDERS: dict[str, Callable[[Settings], Backend]] = {
    "styles": _build_styles,
    "notes": _build_notes,
    "riffusion": _build_riffusion,
    "code": _build_code,
}
_instances: dict[tuple[str, str], Backend] = {}


def _instance_key(name: str, settings: Settings) -> tuple[str, str]:
    """Backends are shared per process, but settings that change what they load make a new one."""
    relevant = (
        settings.soundfont_path,
        settings.embeddings_enabled,
        settings.cache_dir,
        settings.device,
        settings.openai_base_url,
        settings.llm_model,
        settings.llm_timeout_s,
        settings.llm_max_retries,
        settings.llm_max_tokens,
        settings.llm_repair_rounds,
        settings.llm_token_budget,
        settings.riffusion_model,
        settings.riffusion_revision,
        settings.riffusion_scheduler,
        settings.riffusion_steps,
        settings.riffusion_guidance,
        settings.riffusion_denoising,
        settings.riffusion_audio_denoising,
        settings.riffusion_batch_size,
        settings.riffusion_batch_wait_ms,
        settings.riffusion_max_seconds,
        settings.code_allow_weak_sandbox,
        settings.code_cpu_s,
        settings.code_wall_s,
        settings.code_memory_mb,
    )
    return name, repr(relevant)


def get_backend(name: str, settings: Settings) -> Backend:
    """The process-wide instance of a backend (models load once per process)."""
    key = _instance_key(name, settings)
    if key not in _instances:
        builder = _BUILDERS.get(name)
        if builder is None:
            raise KeyError(name)
        _instances[key] = builder(settings)
    return _instances[key]
