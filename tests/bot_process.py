"""Run the real bot (`bot.runner.run_bot`) in a process of its own, against a fake Discord.

Tests start it with `python -m tests.bot_process`; settings come from the environment exactly as in
production, and FAKE_DISCORD_URL says where the fake listens (in the test's own process, on loopback).
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    from services.config import load_settings
    from services.settings import require_token
    from tests.fakediscord import point_discord_py_at

    settings = load_settings()
    with point_discord_py_at(os.environ["FAKE_DISCORD_URL"]):
        from bot.runner import run_bot

        return run_bot(settings, require_token(settings))


if __name__ == "__main__":
    sys.exit(main())
