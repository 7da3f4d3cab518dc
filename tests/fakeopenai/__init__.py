"""A fake OpenAI-compatible server for tests, driven by the real `openai` client over loopback.

Use the `fake_openai` fixture (import it into a test module, or into conftest.py):

    def test_x(fake_openai: FakeOpenAI) -> None:
        fake_openai.script(Reply.json(score), Reply.rate_limited("0"))
        settings = make_settings(tmp, openai_base_url=fake_openai.base_url)
        ...
        assert fake_openai.requests[0].response_format == "json_schema"
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakeopenai.scores import folk_score, score_dict
from tests.fakeopenai.server import FakeOpenAI, Recorded, Reply, Responder


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A running fake OpenAI-compatible server; `.base_url` is what OPENAI_BASE_URL should be."""
    with FakeOpenAI() as fake:
        yield fake


__all__ = ["FakeOpenAI", "Recorded", "Reply", "Responder", "fake_openai", "folk_score", "score_dict"]
