"""Describe mode: the vision model's caption through the real `openai` client, honest fallbacks."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import pytest
from PIL import Image

from services.images.describe import describe_image, vision_config
from services.llm.client import LLMConfig, forget_modes
from services.settings import Settings
from tests.fakeopenai import FakeOpenAI, Reply, fake_openai  # noqa: F401 - the fixture

CAPTION = "A foggy harbour at dawn, boats resting on grey water."
MUSIC = "slow ambient, misty, 70 bpm, D minor, soft pads and distant bells"


def settings_with(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@pytest.fixture(autouse=True)
def _fresh_memory() -> Iterator[None]:
    forget_modes()
    yield
    forget_modes()


def picture() -> Image.Image:
    image = Image.new("RGB", (1200, 800), (30, 60, 140))
    image.paste((240, 200, 40), (100, 100, 300, 300))
    return image


def config_for(fake: FakeOpenAI) -> LLMConfig:
    return LLMConfig(
        base_url=fake.base_url, api_key="sk-fake", model="vision-fake", timeout_s=5, max_retries=0
    )


def test_caption_from_the_vision_model_becomes_the_prompt(fake_openai: FakeOpenAI) -> None:  # noqa: F811
    fake_openai.script(Reply.json({"caption": CAPTION, "music_prompt": MUSIC}))
    described = describe_image(picture(), config=config_for(fake_openai))
    assert described.source == "vision" and described.model == "vision-fake"
    assert described.caption == CAPTION and described.prompt == MUSIC
    assert described.notes == ()
    assert any(CAPTION in line for line in described.summary)
    assert described.summary[-1] == f"Prompt: {MUSIC}"
    # The picture travelled as an image part: a base64 PNG data URL, downscaled, decodable.
    (request,) = fake_openai.completions()
    assert request.body["model"] == "vision-fake"
    parts = request.body["messages"][-1]["content"]
    url = next(part["image_url"]["url"] for part in parts if part["type"] == "image_url")
    assert url.startswith("data:image/png;base64,")
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.format == "PNG" and max(sent.size) == 768
    assert request.response_format == "json_schema"


def test_users_own_words_go_first_and_reach_the_model(fake_openai: FakeOpenAI) -> None:  # noqa: F811
    fake_openai.script(Reply.json({"caption": CAPTION, "music_prompt": MUSIC}))
    described = describe_image(picture(), config=config_for(fake_openai), user_prompt="with a cello")
    assert described.prompt == f"with a cello, {MUSIC}"
    assert "with a cello" in str(fake_openai.completions()[0].body["messages"][-1]["content"])


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply.server_error(500), "internal error"),
        (Reply.text("I see a harbour, lovely!"), "no valid JSON"),
        (Reply.json({"caption": "", "music_prompt": MUSIC}), "lacked a caption"),
    ],
)
def test_a_failing_model_falls_back_to_local_analysis_with_a_note(
    fake_openai: FakeOpenAI, reply: Reply, reason: str  # noqa: F811
) -> None:
    fake_openai.script(reply)
    described = describe_image(picture(), config=config_for(fake_openai))
    assert described.source == "local" and described.caption is None
    assert described.prompt == described.analysis.prompt
    (note,) = described.notes
    assert "vision-fake" in note and reason in note and "my own colour and texture analysis" in note
    assert not any(line.startswith("What I saw (") for line in described.summary)


def test_no_llm_means_local_analysis_and_no_request() -> None:
    settings = settings_with(openai_api_key=None, openai_base_url=None, vision_model="gpt-4o-mini")
    described = describe_image(picture(), config=vision_config(settings))
    assert described.source == "local"
    assert described.prompt == described.analysis.prompt
    assert "No vision model is configured" in described.notes[0]
    assert described.analysis.mood.key.name() in described.prompt
    assert describe_image(picture(), config=None).prompt == described.prompt


def test_local_prompt_with_user_words_leaves_key_and_tempo_to_them() -> None:
    described = describe_image(picture(), config=None, user_prompt="in G major, 100 bpm")
    assert described.prompt.startswith("in G major, 100 bpm, ")
    assert "bpm" not in described.prompt.removeprefix("in G major, 100 bpm, ")


def test_vision_config_uses_the_vision_model() -> None:
    settings = settings_with(openai_api_key=None, openai_base_url="http://127.0.0.1:1/v1",
                             llm_model="text-model", vision_model="eyes-model")  # fmt: skip
    config = vision_config(settings)
    assert config.model == "eyes-model" and config.configured
