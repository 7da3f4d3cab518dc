"""The shared LLM client against a fake OpenAI-compatible server, through the real `openai` package."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from services.llm.client import (
    LLMClient,
    LLMConfig,
    LLMError,
    LLMNotConfigured,
    ReplyNotJSON,
    TokenBudget,
    TokenBudgetExceeded,
    extract_json,
    forget_modes,
    remembered_mode,
    retry_after_seconds,
)
from tests.fakeopenai import FakeOpenAI, Reply

SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
MESSAGES = [{"role": "system", "content": "reply with JSON"}, {"role": "user", "content": "the answer?"}]
SECRET = "sk-test-do-not-log-0123456789"


@pytest.fixture(autouse=True)
def _fresh_memory() -> Iterator[None]:
    forget_modes()
    yield
    forget_modes()


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


class RecordingSleep:
    """Stands in for asyncio.sleep so retry waits are checked without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client_for(fake: FakeOpenAI, sleep: RecordingSleep | None = None, **overrides: object) -> LLMClient:
    values: dict[str, object] = {
        "base_url": fake.base_url,
        "api_key": SECRET,
        "model": "fake-model",
        "timeout_s": 5,
    }
    values.update(overrides)
    return LLMClient(LLMConfig(**values), sleep=sleep)  # type: ignore[arg-type]


def test_structured_output_request_carries_schema_key_and_limits(fake: FakeOpenAI) -> None:
    fake.script(Reply.json({"answer": 42}))
    reply = client_for(fake, max_tokens=1234).complete_json(MESSAGES, schema=SCHEMA, schema_name="answer")
    assert reply.data == {"answer": 42}
    assert reply.mode == "json_schema"
    assert reply.attempts == 1
    assert reply.prompt_tokens > 0 and reply.completion_tokens > 0
    [request] = fake.requests
    fmt = request.body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"] == SCHEMA
    assert fmt["json_schema"]["name"] == "answer"
    assert request.body["max_tokens"] == 1234
    assert request.body["model"] == "fake-model"
    assert request.headers["Authorization"] == f"Bearer {SECRET}"


def test_llama_cpp_style_server_falls_back_to_json_object_and_is_remembered(fake: FakeOpenAI) -> None:
    fake.reject_json_schema = True
    fake.script(Reply.json({"answer": 1}), Reply.json({"answer": 2}))
    client = client_for(fake)
    first = client.complete_json(MESSAGES, schema=SCHEMA)
    assert first.mode == "json_object" and first.data == {"answer": 1}
    assert [r.response_format for r in fake.requests] == ["json_schema", "json_object"]
    assert fake.requests[1].body["response_format"]["schema"] == SCHEMA  # llama.cpp reads it from here
    assert remembered_mode(client.config) == "json_object"
    second = client.complete_json(MESSAGES, schema=SCHEMA)
    assert second.data == {"answer": 2}
    assert [r.response_format for r in fake.requests[2:]] == ["json_object"]  # no second refusal


def test_server_without_structured_outputs_gets_plain_text_with_strict_extraction(fake: FakeOpenAI) -> None:
    fake.reject_response_format = True
    fake.script(Reply.text('Here is the score:\n```json\n{"answer": 7}\n```\nEnjoy!'))
    reply = client_for(fake).complete_json(MESSAGES, schema=SCHEMA)
    assert reply.mode == "text" and reply.data == {"answer": 7}
    assert [r.response_format for r in fake.requests] == ["json_schema", "json_object", None]


def test_429_waits_as_retry_after_says_then_succeeds(fake: FakeOpenAI) -> None:
    fake.script(Reply.rate_limited("2"), Reply.json({"answer": 3}))
    sleep = RecordingSleep()
    reply = client_for(fake, sleep).complete_json(MESSAGES, schema=SCHEMA)
    assert reply.data == {"answer": 3}
    assert reply.attempts == 2
    assert sleep.waits == [2.0]
    assert [r.answered for r in fake.requests] == [429, 200]


def test_retry_after_is_capped(fake: FakeOpenAI) -> None:
    fake.script(Reply.rate_limited("3600"), Reply.json({"answer": 3}))
    sleep = RecordingSleep()
    client_for(fake, sleep, max_backoff_s=5.0).complete_json(MESSAGES, schema=SCHEMA)
    assert sleep.waits == [5.0]


def test_5xx_backs_off_exponentially_then_gives_up_with_a_clear_message(fake: FakeOpenAI) -> None:
    fake.script(*[Reply.server_error(503)] * 3)
    sleep = RecordingSleep()
    with pytest.raises(LLMError, match=r"internal error \(HTTP 503\); gave up after 3 attempts"):
        client_for(fake, sleep, max_retries=2, backoff_s=0.5).complete_json(MESSAGES, schema=SCHEMA)
    assert sleep.waits == [0.5, 1.0]
    assert len(fake.requests) == 3


def test_500_then_success(fake: FakeOpenAI) -> None:
    fake.script(Reply.server_error(500), Reply.json({"answer": 5}))
    reply = client_for(fake, RecordingSleep()).complete_json(MESSAGES, schema=SCHEMA)
    assert reply.data == {"answer": 5} and reply.attempts == 2


def test_timeout_is_retried_then_reported(fake: FakeOpenAI) -> None:
    fake.script(Reply.slow(3.0, {"answer": 1}), Reply.slow(3.0, {"answer": 1}))
    sleep = RecordingSleep()
    with pytest.raises(LLMError, match="did not answer in time; gave up after 2 attempts"):
        client_for(fake, sleep, timeout_s=0.3, max_retries=1).complete_json(MESSAGES, schema=SCHEMA)
    assert len(fake.requests) == 2
    assert len(sleep.waits) == 1


def test_invalid_json_reply_raises_with_the_text_kept(fake: FakeOpenAI) -> None:
    fake.script(Reply.text("{not json at all"))
    with pytest.raises(ReplyNotJSON, match="no valid JSON object") as caught:
        client_for(fake).complete_json(MESSAGES, schema=SCHEMA)
    assert caught.value.text == "{not json at all"


def test_reply_cut_at_the_token_limit_is_reported(fake: FakeOpenAI) -> None:
    fake.script(Reply(content='{"answer": ', finish_reason="length"))
    with pytest.raises(ReplyNotJSON, match="ran out of tokens"):
        client_for(fake).complete_json(MESSAGES, schema=SCHEMA)


def test_token_budget_caps_max_tokens_and_refuses_when_spent(fake: FakeOpenAI) -> None:
    fake.script(Reply.json({"answer": 1}))
    budget = TokenBudget(50)
    client = client_for(fake, max_tokens=4000)
    client.complete_json(MESSAGES, schema=SCHEMA, budget=budget)
    assert fake.requests[0].body["max_tokens"] == 50
    assert budget.used > 0
    budget.spend(1000)
    with pytest.raises(TokenBudgetExceeded, match="token budget"):
        client.complete_json(MESSAGES, schema=SCHEMA, budget=budget)
    assert len(fake.requests) == 1  # refused before sending


def test_other_4xx_is_not_retried(fake: FakeOpenAI) -> None:
    fake.script(Reply(status=401, error="Incorrect API key provided"))
    with pytest.raises(LLMError, match="said no"):
        client_for(fake, RecordingSleep()).complete_json(MESSAGES, schema=SCHEMA)
    assert len(fake.requests) == 1


def test_not_configured_says_how_to_configure() -> None:
    config = LLMConfig(base_url=None, api_key=None)
    assert not config.configured
    with pytest.raises(LLMNotConfigured) as caught:
        LLMClient(config)
    message = caught.value.message
    assert "OPENAI_API_KEY" in message and "OPENAI_BASE_URL" in message and "Ollama" in message


def test_local_server_needs_no_key(fake: FakeOpenAI) -> None:
    fake.script(Reply.json({"answer": 9}))
    reply = client_for(fake, api_key=None).complete_json(MESSAGES, schema=SCHEMA)
    assert reply.data == {"answer": 9}


def test_the_key_is_never_logged_or_printed(fake: FakeOpenAI, caplog: pytest.LogCaptureFixture) -> None:
    fake.script(Reply.rate_limited("0"), Reply.json({"answer": 1}))
    caplog.set_level(logging.DEBUG)
    client = client_for(fake, RecordingSleep())
    client.complete_json(MESSAGES, schema=SCHEMA)
    assert caplog.records  # the client did log (retry and reply lines)
    assert SECRET not in caplog.text
    assert SECRET not in repr(client.config)


def test_config_from_settings_reads_secret_and_defaults() -> None:
    from services.settings import Settings

    settings = Settings(_env_file=None, openai_api_key=SECRET, llm_model="m1")  # type: ignore[call-arg]
    config = LLMConfig.from_settings(settings)
    assert config.api_key == SECRET and config.model == "m1" and config.configured
    assert config.timeout_s == 60.0 and config.max_retries == 3


def test_extract_json_is_strict() -> None:
    assert extract_json('{"a": 1}') == {"a": 1}
    assert extract_json('Sure! {"a": [1, 2]} Hope it helps.') == {"a": [1, 2]}
    assert extract_json('```json\n{"a": 2}\n```') == {"a": 2}
    with pytest.raises(ReplyNotJSON, match="2 JSON objects"):
        extract_json('{"a": 1} or maybe {"a": 2}')
    with pytest.raises(ReplyNotJSON):
        extract_json('{"a": NaN}')
    with pytest.raises(ReplyNotJSON):
        extract_json('{"a": Infinity}')
    with pytest.raises(ReplyNotJSON, match="empty"):
        extract_json("   ")
    with pytest.raises(ReplyNotJSON):
        extract_json("@everyone")


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 418])
def test_a_refusal_never_shows_the_servers_text_and_logs_it_without_the_key(
    fake: FakeOpenAI, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    """Error bodies can echo the key ("Incorrect API key provided: sk-…") or anything else: users get
    a reason by status code, the log gets the server's words with the key cut out."""
    body = f"Incorrect API key provided: {SECRET}. [FREE NITRO](https://evil.example) sk-abcdefgh1234***wxyz"
    fake.script(Reply(status=status, error=body))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(LLMError) as caught:
        client_for(fake, RecordingSleep()).complete_json(MESSAGES, schema=SCHEMA)
    message = caught.value.message
    assert SECRET not in message and "Incorrect API key" not in message and "NITRO" not in message
    assert f"HTTP {status}" in message
    if status == 401:
        assert "OPENAI_API_KEY" in message
    assert "Incorrect API key provided" in caplog.text  # the operator still learns what the server said
    assert SECRET not in caplog.text and "sk-abcdefgh1234" not in caplog.text
