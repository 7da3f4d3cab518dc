"""Plain-text descriptions of jobs and results, shared by the bot and the command line.

Cogs add Discord formatting (and escape user text); the command line prints these as they are.
"""

from __future__ import annotations

from services.jobs.models import JobEvent, MusicResult


def fmt_duration(seconds: float) -> str:
    """62.4 → '1:02'."""
    total = int(round(seconds))
    return f"{total // 60}:{total % 60:02d}"


def result_facts(result: MusicResult) -> list[tuple[str, str]]:
    """(label, value) pairs: backend, seed, tempo, key, metre, duration, tags."""
    facts = [("Backend", result.backend), ("Seed", str(result.seed))]
    if result.tempo_bpm is not None:
        facts.append(("Tempo", f"{result.tempo_bpm:g} bpm"))
    if result.key:
        facts.append(("Key", result.key))
    if result.time_signature:
        facts.append(("Metre", result.time_signature))
    facts.append(("Duration", fmt_duration(result.duration_s)))
    if result.tags:
        facts.append(("Tags", ", ".join(result.tags[:12])))
    return facts


def result_text(result: MusicResult) -> str:
    """The whole summary as plain text (command line)."""
    lines = [result.title, ""]
    lines += [f"{label:>9}: {value}" for label, value in result_facts(result)]
    if result.summary:
        lines += ["", "What I understood:"] + [f"  - {line}" for line in result.summary]
    if result.heard_lines:
        lines += ["", "Asked → heard:"] + [f"  - {line}" for line in result.heard_lines]
    if result.lyrics:
        lines += ["", "Lyrics:"] + [f"  {line}" for line in result.lyrics.split("\n")]
    if result.stems:
        lines += ["", "Stems: " + ", ".join(name for name, _ in result.stems)]
    if result.notes:
        lines += [""] + [f"Note: {note}" for note in result.notes]
    return "\n".join(lines)


def progress_text(event: JobEvent | None, *, position: int | None = None) -> str:
    """One line of progress: 'Composing · step 2/12 · ETA ~4 s' or 'Queued · position 3 · ETA ~20 s'."""
    if event is None:
        return "Queued…"
    parts: list[str] = []
    if event.kind == "queued":
        parts.append("Queued")
        pos = event.position if event.position is not None else position
        if pos is not None:
            parts.append(f"position {pos}")
    elif event.kind == "started":
        parts.append("Starting")
    elif event.kind == "progress":
        parts.append(event.stage[:1].upper() + event.stage[1:] if event.stage else "Working")
        if event.total:
            parts.append(f"step {event.step}/{event.total}")
    else:
        parts.append(event.kind.capitalize())
    if event.eta_s is not None and event.kind in ("queued", "started", "progress"):
        parts.append(f"ETA ~{max(1, round(event.eta_s))} s")
    return " · ".join(parts)
