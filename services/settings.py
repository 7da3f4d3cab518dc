"""One documented settings object, read from the environment and `.env`.

Every setting has a working default except `DISCORD_TOKEN`, which only the bot
itself needs (the command line makes music without it). `.env.example` lists them
all; `services.config.load_settings` reads them, checks what spans settings (and the
backend names, against the registry), and turns a failure into one line naming the setting.
This module knows no backend: it is the leaf every other module imports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def backend_names(text: str) -> tuple[str, ...]:
    """Comma-separated backend names as settings and command-line options take them: trimmed, lower-case."""
    return tuple(part.strip().lower() for part in text.split(",") if part.strip())


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it and never echoes secrets."""


class Settings(BaseSettings):
    """promptjam's settings. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    # --- Discord -----------------------------------------------------------------------------
    discord_token: SecretStr | None = None  # bot token; required by `promptjam run`, never logged
    discord_guild_id: int | None = None  # sync commands to this guild at start-up (instant); global otherwise

    # --- storage -----------------------------------------------------------------------------
    data_dir: Path = Path("data")  # results (MP3, PNG, MIDI) and caches live here
    database_path: Path | None = None  # SQLite file; defaults to DATA_DIR/promptjam.sqlite3
    result_retention_hours: float = 72.0  # rendered files older than this are deleted
    # Users' attachments of finished pieces (Reroll/Variation/Extend remake from them); 0: deleted at the end.
    input_retention_hours: float = Field(72.0, ge=0, le=100_000)
    job_retention_days: float = Field(30.0, gt=0, le=36_500)  # finished jobs' rows (their buttons then stop)
    jam_retention_days: float = Field(30.0, gt=0, le=36_500)  # ended jams: prompts, votes, cached segments
    prune_interval_s: float = Field(3600.0, ge=1, le=86_400)  # how often old data is looked for and deleted

    # --- backends ----------------------------------------------------------------------------
    # comma-separated; unset: every backend this version has (names are checked by load_settings)
    enabled_backends: Annotated[tuple[str, ...] | None, NoDecode] = None
    default_backend: str = "styles"
    soundfont_path: Path | None = None  # General MIDI .sf2; defaults to the one shipped with pretty_midi
    embeddings_enabled: bool = True  # meaning-based tag matching with all-MiniLM-L6-v2 (needs the extra)
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"  # torch device for model backends
    riffusion_model: str = "riffusion/riffusion-model-v1"  # hub id or local folder
    riffusion_revision: str | None = None  # hub revision of RIFFUSION_MODEL (branch, tag or commit)
    riffusion_scheduler: Literal["dpm++", "ddim", "euler", "euler-a", "pndm", "lms"] = "dpm++"
    riffusion_steps: int = Field(22, ge=1, le=200)  # denoising steps of a full schedule
    riffusion_guidance: float = Field(7.0, ge=0, le=30)  # classifier-free guidance scale
    riffusion_denoising: float = Field(0.75, gt=0, le=1)  # img2img strength from a beat or texture seed
    riffusion_audio_denoising: float = Field(0.55, gt=0, le=1)  # strength from the user's own audio
    riffusion_batch_size: int = Field(4, ge=1, le=64)  # most spectrograms in one pipeline call
    riffusion_batch_wait_ms: float = Field(50.0, ge=0, le=2000)  # how long a batch waits for company
    riffusion_max_seconds: float = Field(60.0, ge=5, le=600)  # longest riffusion piece (5.11 s windows)
    musicgen_model: str = "facebook/musicgen-small"  # musicgen: hub id or local folder (text, extend)
    musicgen_melody_model: str = "facebook/musicgen-melody"  # from a melody (an attachment, /music hum)
    musicgen_revision: str | None = None  # hub revision of both MusicGen models
    musicgen_dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"  # auto: fp16 on CUDA
    musicgen_guidance: float = Field(3.0, ge=1, le=15)  # classifier-free guidance (MusicGen's own default)
    musicgen_temperature: float = Field(1.0, gt=0, le=2)  # sampling temperature
    musicgen_top_k: int = Field(250, ge=1, le=4096)  # sample among the k likeliest codes
    musicgen_window_s: float = Field(30.0, ge=5, le=30)  # one generation window (MusicGen is trained on 30 s)
    musicgen_overlap_s: float = Field(10.0, ge=1, le=20)  # context a further window continues from
    musicgen_max_seconds: float = Field(120.0, ge=5, le=600)  # longest piece (windows continued, crossfaded)
    musicgen_batch_size: int = Field(4, ge=1, le=64)  # most pieces in one generate() call
    musicgen_batch_wait_ms: float = Field(50.0, ge=0, le=2000)  # how long a batch waits for company
    acestep_model: str = (
        "ACE-Step/acestep-v15-xl-turbo-diffusers"  # song: ACE-Step 1.5 hub id or local folder
    )
    acestep_revision: str | None = None  # hub revision of ACESTEP_MODEL
    acestep_steps: int = Field(8, ge=1, le=200)  # denoising steps (turbo checkpoints are made for 8)
    acestep_guidance: float = Field(7.0, ge=0, le=30)  # guidance of base/SFT checkpoints (turbo ignores it)
    acestep_shift: float = Field(3.0, gt=0, le=10)  # timestep shift of the flow-matching schedule
    acestep_max_seconds: float = Field(240.0, ge=10, le=600)  # longest song (ACE-Step makes 10 s to 10 min)
    acestep_dtype: Literal["auto", "float32", "float16", "bfloat16"] = (
        "auto"  # auto: bf16 on GPU, fp32 on CPU
    )
    acestep_offload: Literal["none", "model"] = "none"  # model: each part on the GPU only while it runs
    acestep_batch_size: int = Field(4, ge=1, le=64)  # most songs in one pipeline call
    acestep_batch_wait_ms: float = Field(50.0, ge=0, le=2000)  # how long a batch waits for company
    acestep_cover_strength: float = Field(0.6, ge=0, le=1)  # /music cover's default strength

    # --- LLM (notes, code, image description) ------------------------------------------------
    openai_api_key: SecretStr | None = None  # the openai client's own OPENAI_API_KEY
    openai_base_url: str | None = None  # OPENAI_BASE_URL; a local OpenAI-compatible server needs no key
    llm_model: str = "gpt-4o-mini"  # model that writes notes and code
    vision_model: str = "gpt-4o-mini"  # model that describes images
    llm_timeout_s: float = Field(60.0, gt=0, le=600)  # one HTTP request to the LLM server
    llm_max_retries: int = Field(3, ge=0, le=10)  # extra attempts on 429, 5xx and timeouts, with backoff
    llm_max_tokens: int = Field(16_000, ge=256, le=200_000)  # completion tokens per request
    llm_repair_rounds: int = Field(2, ge=0, le=10)  # feedback rounds before the deterministic repair
    llm_token_budget: int = Field(120_000, ge=1000, le=10_000_000)  # tokens one job may spend in all

    # --- code backend (sandboxed generated code) --------------------------------------------
    code_allow_weak_sandbox: bool = False  # run code with process limits alone when nothing isolates (unsafe)
    code_cpu_s: int = Field(20, ge=1, le=600)  # CPU seconds one module may use
    code_wall_s: float = Field(30.0, ge=1, le=600)  # wall-clock seconds before the sandbox is killed
    code_memory_mb: int = Field(1536, ge=128, le=65536)  # address space of the sandboxed process

    # --- images and audio from users -----------------------------------------------------
    image_max_bytes: int = Field(25 * 2**20, ge=1024, le=500 * 2**20)  # largest attachment fetched
    attachment_timeout_s: float = Field(90.0, gt=0, le=900)  # one attachment download, from start to end
    attachment_stall_s: float = Field(15.0, gt=0, le=300)  # ... and while no byte arrives (a stalled CDN)
    image_max_pixels: int = Field(40_000_000, ge=10_000, le=500_000_000)  # larger pictures are refused unread
    image_sonify_max_seconds: float = Field(20.0, ge=1, le=120)  # longest "sonify" result
    vision_enabled: bool = True  # describe pictures with VISION_MODEL when an LLM is configured
    message_content_intent: bool = False  # needed only for listening channels (privileged intent)

    # --- limits ------------------------------------------------------------------------------
    default_duration_s: int = Field(20, ge=1, le=600)  # length when the user gives none
    max_duration_s: int = Field(120, ge=5, le=600)  # longest piece a user may ask for
    per_user_concurrent_jobs: int = Field(1, ge=1, le=50)  # jobs of one user that may run at the same time
    per_user_queued_jobs: int = Field(5, ge=1, le=500)  # jobs one user may have queued or running in all
    queue_size: int = Field(100, ge=1, le=100_000)  # jobs waiting or running in all, before "queue is full"
    user_jobs_per_minute: int = Field(6, ge=1, le=1000)  # per-user submission rate
    job_timeout_s: int = Field(300, ge=1, le=3600)  # a job running longer is stopped and reported
    job_max_attempts: int = Field(3, ge=1, le=100)  # starts cut off by the bot dying, then failed
    workers: int = Field(1, ge=1, le=64)  # parallel jobs (worker processes for CPU backends)
    worker_mode: Literal["process", "thread"] = "process"  # process: isolated, GIL-free; thread: light
    model_workers: int = Field(4, ge=1, le=64)  # riffusion/musicgen jobs at once, sharing a model, batched

    # --- workers on other machines (taskiq + Redis Streams; services/workers/) ------------------
    # Empty: every job runs in this process's workers. Set (redis://, or rediss://user:password@host for
    # TLS): jobs of REMOTE_BACKENDS go to `promptjam worker` processes through Redis. Never logged.
    redis_url: SecretStr | None = None
    # comma-separated backends whose jobs go to workers when REDIS_URL is set; empty: every backend
    remote_backends: Annotated[tuple[str, ...], NoDecode] = ()
    redis_prefix: str = Field("promptjam", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    # A worker that stopped answering (killed, lost) this long has its jobs taken over by another worker;
    # a live worker renews its claim on a running job well within it, so long jobs never run twice.
    worker_claim_timeout_s: float = Field(30.0, ge=2, le=3600)
    redis_result_ttl_s: int = Field(3600, ge=60, le=7 * 86_400)  # finished results and inputs kept in Redis
    redis_stream_maxlen: int = Field(10_000, ge=100, le=10_000_000)  # entries kept per stream (trimmed)
    # `promptjam worker` defaults (its --backends and --concurrency options win)
    worker_backends: Annotated[tuple[str, ...], NoDecode] = ()  # empty: every enabled backend that runs here
    worker_concurrency: int = Field(1, ge=1, le=64)  # jobs at once in one worker process (batched models)

    # --- jams (community prompt jams) ---------------------------------------------------------
    jam_max_contributions: int = Field(24, ge=1, le=200)  # prompts in play in one jam (active ones)
    jam_max_per_user: int = Field(3, ge=1, le=100)  # prompts in play one user may have in a jam
    jam_skip_threshold: int = Field(2, ge=1, le=100)  # skip votes that drop a prompt (and skips > keeps)
    jam_default_bpm: int = Field(100, ge=40, le=240)  # tempo of a jam started without one
    jam_default_bars: int = Field(4, ge=1, le=16)  # bars per segment of a jam started without them
    jam_crossfade_beats: float = Field(1.0, ge=0, le=8)  # each seam's crossfade, in beats

    # --- output ------------------------------------------------------------------------------
    mp3_bitrate_kbps: int = Field(192, ge=32, le=320)  # first bitrate tried; lowered to fit uploads
    target_lufs: float = Field(-14.0, ge=-40, le=-6)  # loudness every result is normalised to
    correct_to_stated: bool = True  # model backends: stretch/shift to a stated tempo and key (±8%, ±2 st)
    heard_candidates: int = Field(1, ge=1, le=8)  # model backends, tempo or key stated: takes to choose from
    progress_interval_s: float = Field(1.5, ge=0.2, le=30)  # least time between progress edits

    # --- delivery (posting outcomes to Discord) ----------------------------------------------
    delivery_retry_base_s: float = Field(2.0, gt=0, le=600)  # wait after a failed post; doubles each try
    delivery_retry_max_s: float = Field(300.0, gt=0, le=3600)  # longest wait between two tries
    delivery_attempt_timeout_s: float = Field(60.0, gt=0, le=100)  # one try (below the 120 s claim lease)
    delivery_sweep_s: float = Field(30.0, gt=0, le=3600)  # how often unposted finished jobs are looked for
    delivery_give_up_s: float = Field(86_400.0, gt=0, le=30 * 86_400)  # stop trying this long after the end

    # --- logging -----------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Libraries that log parameters (aiosqlite, discord …) stay at INFO unless named here (comma-separated
    # logger names, e.g. "discord.gateway,aiosqlite"); what they print is still redacted and capped.
    log_debug_libraries: Annotated[tuple[str, ...], NoDecode] = ()
    log_max_line_chars: int = Field(1000, ge=200, le=1_000_000)  # longer log lines are cut

    # --- shutdown ----------------------------------------------------------------------------
    # On SIGTERM/SIGINT running jobs get this long to finish and be delivered; the rest are resumed at
    # the next start. Container runtimes usually kill 10 s after SIGTERM: stay well below.
    shutdown_grace_s: float = Field(5.0, ge=0, le=600)

    @field_validator("enabled_backends", "remote_backends", "worker_backends", mode="before")
    @classmethod
    def _split_backends(cls, value: object) -> object:
        if isinstance(value, str):
            value = backend_names(value)
        return value

    @field_validator("log_debug_libraries", mode="before")
    @classmethod
    def _split_loggers(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("enabled_backends")
    @classmethod
    def _some_backend(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not value:
            raise ValueError("at least one backend must be enabled")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def database_file(self) -> Path:
        return self.database_path or self.data_dir / "promptjam.sqlite3"

    @property
    def results_dir(self) -> Path:
        return self.data_dir / "results"

    @property
    def inputs_dir(self) -> Path:
        return self.data_dir / "inputs"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


def require_token(settings: Settings) -> str:
    """The bot token, or SettingsError telling the user how to get one."""
    if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
        raise SettingsError(
            "setting DISCORD_TOKEN is missing: create a bot in the Discord developer portal and put its "
            "token in .env (see README, 'Running the bot')"
        )
    return settings.discord_token.get_secret_value().strip()
