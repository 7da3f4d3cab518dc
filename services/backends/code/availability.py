"""Can code run here? An LLM to ask, and a sandbox that really isolates (probed once per process, then
cached), unless an admin accepted process limits alone.

One check for both askers: the registry (`/music backends`, admission) and CodeBackend.available().
"""

from __future__ import annotations

from services.backends.base import Availability
from services.backends.code.config import CodeConfig
from services.backends.code.sandbox.isolation import detect
from services.backends.code.sandbox.layers import Isolation
from services.llm.client import NOT_CONFIGURED, LLMConfig

WEAK_SANDBOX = (
    "this host offers no isolation beyond process limits ({tried}); install bubblewrap or use a kernel "
    "with Landlock, plus libseccomp — or set CODE_ALLOW_WEAK_SANDBOX=true to accept the risk"
)


def sandbox(isolation: Isolation | None, *, allow_weak: bool) -> tuple[Isolation, str | None]:
    """The isolation to use (None: the strongest this host offers), and why not to run at all (None: fine)."""
    if isolation is not None:
        chosen, tried = isolation, "configured explicitly"
    else:
        report = detect()
        chosen, tried = report.isolation, "; ".join(report.tried)
    if chosen.strong or allow_weak:
        return chosen, None
    return chosen, WEAK_SANDBOX.format(tried=tried)


def status(llm: LLMConfig, isolation: Isolation | None, *, allow_weak: bool) -> Availability:
    if not llm.configured:
        return Availability(False, NOT_CONFIGURED)
    chosen, problem = sandbox(isolation, allow_weak=allow_weak)
    if problem:
        return Availability(False, problem)
    return Availability(True, f"ready ({llm.model} at {llm.server}; sandbox: {chosen.name})")


def check(config: CodeConfig) -> Availability:
    return status(config.llm, None, allow_weak=config.allow_weak_sandbox)
