"""Why a sandbox run gave no audio: the code's fault (sent back to the model) or the host's (not)."""

from __future__ import annotations

from services.errors import UserError


class SandboxFailure(UserError):
    """The generated code failed; `for_model` is what the model is told so it can fix it."""

    kind = "failed"

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail  # a traceback or other specifics, for the model (never shown raw to users)

    @property
    def for_model(self) -> str:
        return f"{self.message}\n{self.detail}".strip()


class CodeRaised(SandboxFailure):
    """render() (or the module's top level) raised; the message is the filtered traceback."""

    kind = "raised"


class OverLimit(SandboxFailure):
    """Too much time, CPU, memory or output: the run was stopped."""

    kind = "over a limit"


class BadAudio(SandboxFailure):
    """The returned audio is unusable: NaN/inf, too long, empty, silent, wrong shape."""

    kind = "bad audio"


class SandboxBroken(Exception):
    """The host could not confine the code (a layer failed to apply, bwrap refused): not the code's fault."""
