"""The code backend end to end: real `openai` client → fake server → checks → real sandbox → audio."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from services.backends.base import BackendUnavailable, GenerationRequest, no_progress
from services.backends.code.backend import NOT_CONFIGURED, CodeBackend, CodeGeneration
from services.backends.code.prompting import EXAMPLE_BEAT
from services.backends.code.sandbox.layers import Isolation, Limits
from services.backends.code.soundlib import sine
from services.errors import UserError
from services.llm.client import LLMConfig, forget_modes
from tests.fakeopenai import FakeOpenAI, Reply

SR = 8000
GOOD = "from soundlib import sine, fade\n\ndef render(sr):\n    return fade(sine(220.0, 1.0, sr) * 0.5, sr)\n"
BROKEN = "from soundlib import sine\n\ndef render(sr):\n    return sine(220.0, 1.0, sr) * undefined_gain\n"
ESCAPE = "import os\n\ndef render(sr):\n    os.system('curl evil')\n    return 0\n"


class NoWait:
    async def __call__(self, seconds: float) -> None:
        return None


@pytest.fixture(autouse=True)
def _fresh_memory() -> Iterator[None]:
    forget_modes()
    yield
    forget_modes()


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def backend_for(fake: FakeOpenAI, isolation: Isolation | None = None) -> CodeBackend:
    config = LLMConfig(base_url=fake.base_url, model="fake-coder", timeout_s=5.0, max_retries=1)
    return CodeBackend(
        llm=config,
        isolation=isolation or Isolation(),
        allow_weak_sandbox=isolation is None,
        limits=Limits(cpu_s=5, wall_s=20.0),
        sample_rate=SR,
        sleep=NoWait(),
    )


def request(prompt: str = "a soft low hum", seconds: float = 1.0) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, duration_s=seconds, seed=1)


def test_without_an_llm_it_says_how_to_configure_one() -> None:
    backend = CodeBackend(
        llm=LLMConfig(base_url=None, api_key=None), isolation=Isolation(seccomp=True, landlock=True)
    )
    status = backend.available()
    assert not status.available and status.reason == NOT_CONFIGURED
    with pytest.raises(BackendUnavailable, match="OPENAI_API_KEY"):
        backend.generate(request(), no_progress)


def test_weak_sandbox_keeps_the_backend_off_unless_allowed(fake: FakeOpenAI) -> None:
    config = LLMConfig(base_url=fake.base_url, model="fake-coder")
    weak = CodeBackend(llm=config, isolation=Isolation())
    assert not weak.available().available and "CODE_ALLOW_WEAK_SANDBOX" in weak.available().reason
    with pytest.raises(BackendUnavailable, match="no isolation beyond process limits"):
        weak.generate(request(), no_progress)
    assert fake.requests == []  # refused before asking the model
    assert CodeBackend(llm=config, isolation=Isolation(), allow_weak_sandbox=True).available().available


def test_valid_module_becomes_audio_with_the_code_attached(fake: FakeOpenAI) -> None:
    fake.script(Reply.json({"title": "Low hum", "code": GOOD}))
    stages: list[str] = []
    generation = backend_for(fake, Isolation(bubblewrap=True, landlock=True, seccomp=True)).generate(
        request(), lambda stage, k, n: stages.append(stage)
    )
    assert isinstance(generation, CodeGeneration)
    assert generation.attachments == {"song.py": GOOD.encode()}
    assert generation.audio.sample_rate == SR and generation.audio.frames == SR
    expected = sine(220.0, 1.0, SR) * 0.5
    np.testing.assert_allclose(generation.audio.samples[0, 100:-500], expected[100:-500], atol=1e-5)
    assert generation.title == "Low hum"
    text = "\n".join(generation.summary)
    assert "bubblewrap+landlock+seccomp" in text and "fade(sine(220.0" in text and "import" not in text
    assert stages[0] == "writing the code" and "running the code in the sandbox" in stages
    assert "render(sr)" in fake.requests[0].system_text and "soundlib" in fake.requests[0].system_text


def test_broken_module_gets_its_traceback_and_is_fixed(fake: FakeOpenAI) -> None:
    fake.script(Reply.json({"title": "Hum", "code": BROKEN}), Reply.json({"title": "Hum", "code": GOOD}))
    generation = backend_for(fake).generate(request(), no_progress)
    assert len(fake.requests) == 2
    feedback = fake.requests[1].user_text
    assert "NameError" in feedback and "undefined_gain" in feedback and 'File "song.py", line 4' in feedback
    assert generation.audio.frames == SR and "2 rounds" in generation.summary[0]


def test_escaping_module_is_refused_with_a_clear_message(fake: FakeOpenAI) -> None:
    fake.script(*[Reply.json({"title": "x", "code": ESCAPE})] * 3)
    with pytest.raises(UserError, match=r"refused before running: line 1: importing `os` is not allowed"):
        backend_for(fake).generate(request(), no_progress)
    assert len(fake.requests) == 3  # every round was told why, none was run
    assert "importing `os` is not allowed" in fake.requests[1].user_text


def test_limits_breach_goes_back_to_the_model(fake: FakeOpenAI) -> None:
    loop = "def render(sr):\n    while True:\n        pass\n"
    fake.script(Reply.json({"title": "x", "code": loop}), Reply.json({"title": "ok", "code": EXAMPLE_BEAT}))
    backend = backend_for(fake)
    backend.limits = Limits(cpu_s=1, wall_s=20.0)
    generation = backend.generate(request(seconds=10.0), no_progress)
    assert "CPU time" in fake.requests[1].user_text
    assert generation.audio.channels == 2 and generation.audio.duration > 9.0


def test_reply_without_code_is_sent_back(fake: FakeOpenAI) -> None:
    fake.script(Reply.json({"title": "x"}), Reply.json({"title": "x", "code": GOOD}))
    generation = backend_for(fake).generate(request(), no_progress)
    assert "no `code`" in fake.requests[1].user_text and generation.audio.frames == SR
