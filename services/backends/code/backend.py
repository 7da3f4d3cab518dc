"""The code backend: the model writes a sound module, static checks refuse the obvious, the sandbox runs it.

Read top-down: ask for a module, check it, run it in the sandbox, and send refusals, tracebacks and
limit breaches back to the model for a few rounds. Audio comes back validated; the full module is
attached so people can learn from it. Without an LLM, or on a host whose sandbox is only process
limits (unless an admin accepts that), it says so instead of running anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from services.backends.base import (
    BackendStatus,
    BackendUnavailable,
    Generation,
    GenerationRequest,
    ProgressFn,
)
from services.backends.code import availability
from services.backends.code.checks import check_source
from services.backends.code.config import CodeConfig
from services.backends.code.prompting import (
    REPLY_SCHEMA,
    excerpt,
    failure_feedback,
    initial_messages,
    refusal_feedback,
)
from services.backends.code.sandbox.errors import SandboxBroken, SandboxFailure
from services.backends.code.sandbox.layers import Isolation, Limits
from services.backends.code.sandbox.runner import SandboxRun, run_module
from services.errors import UserError
from services.llm.client import (
    NOT_CONFIGURED,
    LLMClient,
    LLMConfig,
    LLMNotConfigured,
    ReplyNotJSON,
    Sleep,
    TokenBudget,
)
from services.settings import Settings

__all__ = ["NOT_CONFIGURED", "CodeBackend", "CodeGeneration"]

MAX_ECHO_CHARS = 8_000


@dataclass
class CodeGeneration(Generation):
    """A Generation whose `attachments` hold the module that made it ("song.py")."""


class CodeBackend:
    """A language model writes Python against soundlib; it runs in the strongest sandbox the host offers."""

    name: ClassVar[str] = "code"

    def __init__(
        self,
        *,
        llm: LLMConfig,
        isolation: Isolation | None = None,
        limits: Limits | None = None,
        allow_weak_sandbox: bool = False,
        repair_rounds: int = 2,
        sample_rate: int = 44_100,
        token_budget: int = 120_000,
        sleep: Sleep | None = None,
    ) -> None:
        self.llm = llm
        self._isolation = isolation  # None: detect the strongest (probed once per process)
        self.limits = limits or Limits()
        self.allow_weak_sandbox = allow_weak_sandbox  # an admin's explicit "process limits are enough"
        self.repair_rounds = max(0, repair_rounds)  # feedback rounds after the first answer
        self.sample_rate = sample_rate
        self.token_budget = token_budget
        self._sleep = sleep

    @classmethod
    def from_config(cls, config: CodeConfig) -> CodeBackend:
        return cls(
            llm=config.llm,
            limits=config.limits,
            allow_weak_sandbox=config.allow_weak_sandbox,
            repair_rounds=config.repair_rounds,
            token_budget=config.token_budget,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> CodeBackend:
        return cls.from_config(CodeConfig.from_settings(settings))

    def _sandbox(self) -> tuple[Isolation, str | None]:
        """The isolation to use, and why not to run at all (None: fine)."""
        return availability.sandbox(self._isolation, allow_weak=self.allow_weak_sandbox)

    def available(self) -> BackendStatus:
        """The same check the registry runs for `/music backends` (code/availability.py)."""
        verdict = availability.status(self.llm, self._isolation, allow_weak=self.allow_weak_sandbox)
        return BackendStatus(self.name, verdict.available, verdict.reason)

    def generate(self, request: GenerationRequest, progress: ProgressFn) -> Generation:
        try:
            client = LLMClient(self.llm, sleep=self._sleep)
        except LLMNotConfigured as exc:
            raise BackendUnavailable(f"code: {exc.message}") from None
        isolation, problem = self._sandbox()
        if problem:
            raise BackendUnavailable(f"code: {problem}")
        seconds = request.duration_s or request.default_duration_s
        notes: list[str] = []
        if seconds > request.max_duration_s:
            notes.append(
                f"The duration asked for {seconds:.0f} s; this bot's limit is {request.max_duration_s:.0f} s."
            )
            seconds = request.max_duration_s
        max_seconds = min(request.max_duration_s, seconds * 1.5 + 2.0)
        messages = initial_messages(
            request.prompt,
            seconds=seconds,
            sample_rate=self.sample_rate,
            max_seconds=max_seconds,
            bpm=request.bpm,
            key=request.key,
        )
        budget = TokenBudget(self.token_budget)
        total = 2 * (1 + self.repair_rounds)
        failures: list[str] = []
        for attempt in range(1 + self.repair_rounds):
            progress(
                "writing the code" if attempt == 0 else f"fixing the code (round {attempt})",
                2 * attempt,
                total,
            )
            try:
                reply = client.complete_json(
                    messages, schema=REPLY_SCHEMA, schema_name="module", budget=budget
                )
            except ReplyNotJSON as exc:
                failures.append(exc.message)
                messages += [_assistant(exc.text), {"role": "user", "content": failure_feedback(exc.message)}]
                continue
            title, code = _read_reply(reply.data)
            if code is None:
                failures.append("the reply had no `code` string")
                messages += [
                    _assistant(reply.text),
                    {"role": "user", "content": failure_feedback(failures[-1])},
                ]
                continue
            problems = check_source(code)
            if problems:
                failures.append("refused before running: " + "; ".join(str(p) for p in problems[:3]))
                messages += [_assistant(reply.text), {"role": "user", "content": refusal_feedback(problems)}]
                continue
            progress("running the code in the sandbox", 2 * attempt + 1, total)
            try:
                run = run_module(
                    code,
                    sample_rate=self.sample_rate,
                    max_seconds=max_seconds,
                    isolation=isolation,
                    limits=self.limits,
                )
            except SandboxBroken as exc:
                raise BackendUnavailable(f"code: the sandbox failed on this host: {exc}") from None
            except SandboxFailure as exc:
                failures.append(f"{exc.kind}: {exc.message}")
                messages += [
                    _assistant(reply.text),
                    {"role": "user", "content": failure_feedback(exc.for_model)},
                ]
                continue
            return self._generation(request, title, code, run, attempt + 1, notes)
        rounds = 1 + self.repair_rounds
        raise UserError(
            f"the language model did not write working sound code in {rounds} "
            f"{'try' if rounds == 1 else 'tries'}: " + "{problem}",
            problem=_plain(failures[-1] if failures else "no reply", 300),
        )

    def _generation(
        self,
        request: GenerationRequest,
        title: str,
        code: str,
        run: SandboxRun,
        rounds: int,
        notes: list[str],
    ) -> CodeGeneration:
        if run.scaled_by < 1.0:
            notes.append(
                f"The code's audio clipped; it was turned down by {20 * _log10(run.scaled_by):.1f} dB."
            )
        summary = [
            f"Code written by {_plain(self.llm.model, 60)} in {rounds} round{'s' if rounds > 1 else ''}, "
            f"run in a sandbox ({run.isolation.name})",
            f"Audio: {run.audio.duration:.1f} s, {'stereo' if run.audio.channels == 2 else 'mono'}",
            "```python\n" + excerpt(code) + "\n```",
        ]
        return CodeGeneration(
            audio=run.audio,
            title=_plain(title, 60) or _plain(request.prompt, 60) or "Untitled",
            duration_s=min(run.audio.duration, request.max_duration_s),
            summary=summary,
            tempo_bpm=request.bpm,
            key=request.key,
            tags=("code", "llm"),
            notes=notes,
            attachments={"song.py": code.encode("utf-8")},
        )


def _read_reply(data: Any) -> tuple[str, str | None]:
    if not isinstance(data, dict):
        return "", None
    code, title = data.get("code"), data.get("title")
    return (title if isinstance(title, str) else ""), (
        code if isinstance(code, str) and code.strip() else None
    )


def _assistant(text: str) -> dict[str, str]:
    if len(text) > MAX_ECHO_CHARS:
        text = text[:MAX_ECHO_CHARS] + f"\n[… {len(text) - MAX_ECHO_CHARS:,} more characters omitted]"
    return {"role": "assistant", "content": text or "(empty reply)"}


def _plain(text: str, limit: int) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _log10(value: float) -> float:
    import math

    return math.log10(max(value, 1e-12))
