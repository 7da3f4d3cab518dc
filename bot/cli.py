"""`promptjam`: make music from the command line, or run the bot.

`promptjam make "prompt"` enters the engine exactly as the bot does (same
request, same job service, same result), without Discord, GPU or API key.
Discord is imported only by `run` and `sync`.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from services.settings import backend_names

if TYPE_CHECKING:
    from services.backends.base import SongRequest
    from services.settings import Settings

# Exit statuses of a run stopped by Ctrl+C (SIGINT) or SIGTERM, as shells report them.
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def _progress_bar(stage: str, step: int, total: int, width: int = 24) -> str:
    frac = step / total if total else 0.0
    filled = int(frac * width)
    return f"\r[{'#' * filled}{'.' * (width - filled)}] {stage[:32]:<32}"


async def _make(args: argparse.Namespace, settings: Settings) -> int:
    from services.engine import Engine, RequestOptions
    from services.errors import UserError
    from services.jobs.executors import ThreadExecutor
    from services.presenting import result_text

    started = time.perf_counter()
    # SIGTERM ends `make` like Ctrl+C does: the job stops, the engine closes, nothing half-written.
    main_task = asyncio.current_task()
    if main_task is not None:
        with suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    executor = ThreadExecutor(settings, workers=1)
    async with Engine(settings, executor=executor, database=":memory:") as engine:
        try:
            song, cover = _song_options(args)
            request = engine.build_request(
                RequestOptions(
                    prompt=args.prompt,
                    backend=args.backend,
                    duration_s=args.duration,
                    seed=args.seed,
                    bpm=args.bpm,
                    key=args.key,
                    song=song,
                    input_path=str(cover) if cover else None,
                    input_name=cover.name if cover else None,
                    input_kind="audio" if cover else None,
                ),
                upload_limit_bytes=args.max_bytes,
                origin="cli",  # the operator: per-server switches (code off by default) do not apply
            )
            job_id = f"cli-{int(time.time() * 1000)}"
            events = engine.jobs.subscribe()
            await engine.submit(job_id, request)
            tty = sys.stderr.isatty()
            try:
                while True:
                    event = await events.get()
                    if event.job_id != job_id:
                        continue
                    if event.kind == "progress" and tty and not args.quiet:
                        print(
                            _progress_bar(event.stage, event.step, event.total),
                            end="",
                            file=sys.stderr,
                            flush=True,
                        )
                    if event.kind in ("done", "failed", "cancelled"):
                        break
            finally:
                if tty and not args.quiet:
                    print(file=sys.stderr)  # end the progress bar's line, interrupted or not
            record = await engine.jobs.get(job_id)
        except UserError as exc:
            print(f"promptjam: {exc.message}", file=sys.stderr)
            return 2
    assert record is not None
    if record.result is None:
        suffix = f" (error id {record.error_id})" if record.error_id else ""
        print(f"promptjam: {record.error_text() or 'failed'}{suffix}", file=sys.stderr)
        return 1
    result = record.result
    out = Path(args.output or result.mp3_filename)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(result.mp3_path, out)
    if args.midi and result.midi_path:
        shutil.copyfile(result.midi_path, args.midi)
    if args.preview and result.preview_path:
        shutil.copyfile(result.preview_path, args.preview)
    for name, path in result.stems[1:]:  # the first stem is the MP3 written above
        shutil.copyfile(path, out.with_name(f"{out.stem.removesuffix('-' + result.stems[0][0])}-{name}.mp3"))
    if not args.quiet:
        print(result_text(result))
        print(f"\nWrote {out} ({out.stat().st_size // 1024} KB) in {time.perf_counter() - started:.1f} s")
    return 0


def _song_options(args: argparse.Namespace) -> tuple[SongRequest | None, Path | None]:
    """The song part of `make`: lyrics (text, or a file's text), metre, language, a cover's input file."""
    from services.backends.base import SongRequest
    from services.errors import UserError
    from services.songs.lyrics import beats_per_bar

    wants_song = args.lyrics is not None or args.cover or args.timesig or args.language
    if not wants_song and (args.backend or "").strip().lower() != "song":
        return None, None
    lyrics = args.lyrics
    if lyrics is not None and len(lyrics) < 4096 and "\n" not in lyrics and Path(lyrics).is_file():
        lyrics = Path(lyrics).read_text(encoding="utf-8", errors="replace")
    cover = Path(args.cover) if args.cover else None
    if cover is not None and not cover.is_file():
        raise UserError("There is no audio file at {path}.", path=str(cover))
    song = SongRequest(
        task="cover" if cover else "sing",
        lyrics=lyrics,
        language=args.language or "en",
        beats_per_bar=beats_per_bar(args.timesig),
        cover_strength=args.strength,
    )
    return song, cover


def _backends(settings: Settings) -> int:
    from services.backends.registry import all_statuses

    for status in all_statuses(settings):
        mark = "yes" if status.available else "no "
        print(f"{status.name:<10} {mark}  {status.reason}")
        if status.description:
            print(f"{'':<15}{status.description}")
    return 0


def _sandbox_run(args: argparse.Namespace, settings: Settings) -> int:
    """Run a module's render(sr) through exactly the sandbox the code backend uses, and say how."""
    from scipy.io import wavfile

    from services.backends.code.checks import check_source
    from services.backends.code.sandbox.isolation import detect
    from services.backends.code.sandbox.layers import Limits
    from services.backends.code.sandbox.runner import run_module
    from services.errors import UserError

    source = Path(args.file).read_text(encoding="utf-8")
    for problem in check_source(source):
        print(f"static check (the bot refuses this before running it): {problem}")
    report = detect()
    isolation = report.isolation
    print(f"isolation: {isolation.name}")
    for line in isolation.describe():
        print(f"  - {line}")
    if not isolation.strong and not settings.code_allow_weak_sandbox:
        print("promptjam: no isolation beyond process limits here; not running it", file=sys.stderr)
        for line in report.tried:
            print(f"  tried {line}", file=sys.stderr)
        return 2
    limits = Limits(
        cpu_s=settings.code_cpu_s, wall_s=settings.code_wall_s, memory_bytes=settings.code_memory_mb << 20
    )
    try:
        run = run_module(
            source, sample_rate=args.rate, max_seconds=args.duration, isolation=isolation, limits=limits
        )
    except UserError as exc:
        print(f"promptjam: {exc.message}", file=sys.stderr)
        return 1
    audio = run.audio
    shape = f"{audio.channels} channel(s), {audio.duration:.2f} s at {audio.sample_rate} Hz"
    print(f"ran in {run.wall_s:.2f} s: {shape}")
    if args.output:
        wavfile.write(args.output, audio.sample_rate, audio.samples.T)
        print(f"wrote {args.output}")
    return 0


def _run_bot(settings: Settings, *, sync_only: bool = False) -> int:
    from services.settings import require_token

    token = require_token(settings)
    from bot.runner import run_bot

    return run_bot(settings, token, sync_only=sync_only)


def _run_worker(args: argparse.Namespace, settings: Settings) -> int:
    """`promptjam worker`: serve jobs from Redis until SIGTERM or Ctrl+C, then stop cleanly."""
    from services.logsetup import setup_logging_from
    from services.workers.worker import Worker, plan_worker

    setup_logging_from(settings)
    # Worker() refuses a plan with nothing to serve: say first what was skipped, and why.
    worker = Worker(settings, plan_worker(settings, args.backends, args.concurrency))

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        await worker.serve(stop)

    asyncio.run(serve())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promptjam", description="Turn words into music, here or on Discord."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    make = sub.add_parser("make", help="make an MP3 from a prompt")
    make.add_argument("prompt", help='what the music should be, e.g. "rainy lo-fi piano, 80 bpm"')
    make.add_argument("-b", "--backend", help="backend (default: styles)")
    make.add_argument("-d", "--duration", type=float, help="length in seconds")
    make.add_argument("--seed", type=int, help="seed, for the same result again")
    make.add_argument("--bpm", type=float, help="tempo; wins over the prompt")
    make.add_argument("--key", help='key, e.g. "A minor"; wins over the prompt')
    make.add_argument("--lyrics", help="song: the words to sing, or a text file holding them")
    make.add_argument("--timesig", help='song: metre, e.g. "3/4" or "6/8"')
    make.add_argument("--language", help="song: the lyrics' language (en, es, ja …)")
    make.add_argument("--cover", help="song: re-perform this audio file in the prompt's style")
    make.add_argument(
        "--strength", type=float, help="song --cover: how much of the file's shape to keep (0–1)"
    )
    make.add_argument("-o", "--output", help="MP3 path (default: a name from the prompt)")
    make.add_argument("--midi", help="also write the MIDI file here")
    make.add_argument("--preview", help="also write the preview PNG here")
    make.add_argument("--max-bytes", type=int, default=25 * 1024 * 1024, help="fit the MP3 under this size")
    make.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")

    sub.add_parser("run", help="run the Discord bot")
    sub.add_parser("sync", help="sync slash commands with Discord and exit")
    sub.add_parser("backends", help="list backends and whether they can run here")

    worker = sub.add_parser("worker", help="make the jobs of a bot on another machine (needs REDIS_URL)")
    worker.add_argument(
        "--backends",
        type=backend_names,
        help="comma-separated backends to serve (default: WORKER_BACKENDS, or every one that runs here)",
    )
    worker.add_argument(
        "--concurrency", type=int, help="jobs at once in this process (default: WORKER_CONCURRENCY)"
    )

    sandbox = sub.add_parser("sandbox", help="the code backend's sandbox")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", required=True)
    sandbox_run = sandbox_sub.add_parser(
        "run", help="run FILE.py's render(sr) in the sandbox and report the layers"
    )
    sandbox_run.add_argument("file", help="a module defining render(sr) -> array")
    sandbox_run.add_argument(
        "-d", "--duration", type=float, default=60.0, help="longest audio accepted (seconds)"
    )
    sandbox_run.add_argument("-o", "--output", help="write the audio to this WAV file")
    sandbox_run.add_argument("--rate", type=int, default=44_100, help="sample rate passed to render")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _main(args)
    except KeyboardInterrupt:  # Ctrl+C, even while the first imports are still loading
        print("promptjam: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except asyncio.CancelledError:  # SIGTERM during `make`
        print("promptjam: stopped", file=sys.stderr)
        return EXIT_TERMINATED


def _main(args: argparse.Namespace) -> int:
    from services.config import load_settings
    from services.settings import SettingsError

    try:
        settings = load_settings()
        if args.command == "make":
            return asyncio.run(_make(args, settings))
        if args.command == "backends":
            return _backends(settings)
        if args.command == "sandbox":
            return _sandbox_run(args, settings)
        if args.command == "run":
            return _run_bot(settings)
        if args.command == "sync":
            return _run_bot(settings, sync_only=True)
        if args.command == "worker":
            return _run_worker(args, settings)
    except SettingsError as exc:
        print(f"promptjam: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
