"""The notes backend: an LLM writes every note; the rules are checked, fed back, then repaired.

Read top-down: work out the rules, ask the model, check its score and send the
problems back (a few rounds), repair what is still broken with minimal edits,
then render with the shared SoundFont renderer and attach the MIDI. It never
falls back to another engine: without an LLM it says how to configure one.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from services.backends.base import (
    BackendStatus,
    BackendUnavailable,
    Generation,
    GenerationRequest,
    ProgressFn,
)
from services.backends.notes import availability
from services.backends.notes.config import NotesConfig
from services.backends.notes.constraints import NoteConstraints, build_constraints, check, constraint_names
from services.backends.notes.exchange import ExchangeError, read_reply, score_schema
from services.backends.notes.prompting import initial_messages, plain_text
from services.backends.notes.repair import feedback, repair
from services.errors import UserError
from services.llm.client import (
    NOT_CONFIGURED,
    LLMClient,
    LLMConfig,
    LLMNotConfigured,
    ReplyNotJSON,
    Sleep,
    TokenBudget,
    TokenBudgetExceeded,
)
from services.render.soundfont import render_score
from services.score import gm
from services.score.midi import score_to_midi
from services.score.model import Score
from services.score.validate import Violation
from services.settings import Settings

__all__ = ["NOT_CONFIGURED", "NotesBackend"]

MAX_ECHO_CHARS = 8_000  # a longer earlier reply is not sent back in full (it would only spend tokens)
_RENDER_STEPS = 10


class NotesBackend:
    """Any OpenAI-compatible model writes a multi-instrument score that provably keeps the user's rules."""

    name: ClassVar[str] = "notes"

    def __init__(
        self,
        *,
        llm: LLMConfig,
        soundfont: Path | None = None,
        repair_rounds: int = 2,
        token_budget: int = 120_000,
        sleep: Sleep | None = None,
    ) -> None:
        self.llm = llm
        self.soundfont = soundfont
        self.repair_rounds = max(0, repair_rounds)  # feedback rounds after the first answer
        self.token_budget = token_budget  # tokens one job may spend across all its rounds
        self._sleep = sleep  # tests replace the retry wait

    @classmethod
    def from_config(cls, config: NotesConfig) -> NotesBackend:
        return cls(
            llm=config.llm,
            soundfont=config.soundfont,
            repair_rounds=config.repair_rounds,
            token_budget=config.token_budget,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> NotesBackend:
        return cls.from_config(NotesConfig.from_settings(settings))

    def available(self) -> BackendStatus:
        """The same check the registry runs for `/music backends` (notes/availability.py)."""
        verdict = availability.status(self.llm, self.soundfont)
        return BackendStatus(self.name, verdict.available, verdict.reason)

    def generate(self, request: GenerationRequest, progress: ProgressFn) -> Generation:
        try:
            client = LLMClient(self.llm, sleep=self._sleep)
        except LLMNotConfigured as exc:
            raise BackendUnavailable(f"notes: {exc.message}") from None
        rules = build_constraints(request, request.instruments)
        total = 1 + self.repair_rounds + 1 + _RENDER_STEPS
        notes: list[str] = []
        score, violations, rounds = self._compose(client, request, rules, progress, total, notes)

        if violations:
            score, repairs = repair(score, rules)
            remaining = check(score, rules)
            if remaining:
                raise UserError(
                    "the language model's score breaks the request and could not be repaired: {problems}",
                    problems="; ".join(plain_text(str(v), 200) for v in remaining[:5]),
                )
            notes.extend(f"Repaired: {plain_text(r, 300)}." for r in repairs)
        if request.duration_s is not None and request.duration_s > request.max_duration_s:
            notes.append(
                f"The duration option asked for {request.duration_s:.0f} s; "
                f"this bot's limit is {request.max_duration_s:.0f} s."
            )

        first = 1 + self.repair_rounds + 1
        progress("rendering instruments", first, total)
        audio = render_score(
            score,
            soundfont=self.soundfont,
            progress=lambda _s, k, n: progress(
                "rendering instruments", first + round(_RENDER_STEPS * k / n), total
            ),
        )
        return Generation(
            audio=audio,
            title=plain_text(score.title, 60) or _title_from(request.prompt),
            duration_s=min(score.duration_seconds() + 1.0, request.max_duration_s),
            summary=self._summary(score, rules, rounds, repaired=bool(violations)),
            tempo_bpm=score.tempo_bpm,
            key=score.key.name() if score.key else None,
            time_signature=f"{score.time_signature[0]}/{score.time_signature[1]}",
            tags=("notes", "llm"),
            midi=score_to_midi(score),
            notes=notes,
        )

    def _compose(
        self,
        client: LLMClient,
        request: GenerationRequest,
        rules: NoteConstraints,
        progress: ProgressFn,
        total: int,
        notes: list[str],
    ) -> tuple[Score, list[Violation], int]:
        """Ask, check, feed back; the best score seen (fewest violations), its violations, rounds used."""
        messages = initial_messages(request.prompt, rules)
        budget = TokenBudget(self.token_budget)
        best: tuple[Score, list[Violation]] | None = None
        last_problem = ""
        rounds = 0
        for attempt in range(1 + self.repair_rounds):
            stage = "writing the notes" if attempt == 0 else f"fixing the notes (round {attempt})"
            progress(stage, attempt, total)
            rounds = attempt + 1
            try:
                reply = client.complete_json(
                    messages, schema=score_schema(), schema_name="score", budget=budget
                )
            except ReplyNotJSON as exc:
                last_problem = exc.message
                messages += [_assistant(exc.text), {"role": "user", "content": feedback([exc.message])}]
                continue
            except TokenBudgetExceeded as exc:
                last_problem = exc.message
                notes.append(f"Stopped asking the model for fixes: {exc.message}.")
                break
            try:
                score = read_reply(reply.data)
            except ExchangeError as exc:
                last_problem = str(exc)
                messages += [_assistant(reply.text), {"role": "user", "content": feedback(exc.problems)}]
                continue
            violations = check(score, rules)
            if best is None or len(violations) < len(best[1]):
                best = (score, violations)
            if not violations:
                break
            last_problem = str(violations[0])
            messages += [_assistant(reply.text), {"role": "user", "content": feedback(violations)}]
        if best is None:
            raise UserError(
                f"the language model did not write a usable score in {rounds} "
                f"{'try' if rounds == 1 else 'tries'}: " + "{problem}",
                problem=plain_text(last_problem, 300),
            )
        progress("checking the score", 1 + self.repair_rounds, total)
        return best[0], best[1], rounds

    def _summary(self, score: Score, rules: NoteConstraints, rounds: int, *, repaired: bool) -> list[str]:
        parts = []
        for track in score.tracks:
            if not track.notes:
                continue
            what = "drums" if track.is_drum else gm.program_name(track.program)
            name = plain_text(track.name, 40)
            parts.append(name if name.lower() == what else f"{name} ({what})")
        seconds = score.duration_seconds()
        bars = score.end_beat() / score.beats_per_bar
        num, den = score.time_signature
        lines = [
            f"Instruments: {', '.join(parts)}",
            f"Key: {score.key.name() if score.key else 'none stated'} · Tempo: {score.tempo_bpm:g} BPM · "
            f"Metre: {num}/{den} · {bars:.0f} bars, {seconds:.0f} s",
        ]
        lines += [f"Understood: {plain_text(s, 200)}" for s in rules.sources]
        verdict = "kept after repair" if repaired else "all kept"
        lines.append(f"Constraints checked: {', '.join(constraint_names(rules))} — {verdict}")
        lines.append(
            f"Notes written by {plain_text(self.llm.model, 60)} in {rounds} round{'s' if rounds > 1 else ''}"
        )
        return lines


def _assistant(text: str) -> dict[str, str]:
    """The model's earlier answer as an assistant turn, shortened when sending it all back would be waste."""
    if len(text) > MAX_ECHO_CHARS:
        text = text[:MAX_ECHO_CHARS] + f"\n[… {len(text) - MAX_ECHO_CHARS:,} more characters omitted]"
    return {"role": "assistant", "content": text or "(empty reply)"}


def _title_from(prompt: str) -> str:
    words = plain_text(prompt, 200).split()
    title = " ".join(words[:8]) + ("…" if len(words) > 8 else "")
    return title[:1].upper() + title[1:] if title else "Untitled"
