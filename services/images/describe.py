"""Describe a picture as music: a vision model's caption when one is configured, else the local analysis.

Why both: a vision model understands *what* is in the picture ("a foggy harbour at dawn"), which makes a
far better prompt; the local analysis always works and is always computed, so when the model fails the
user still gets music, and the summary says plainly which one was used and why. Nothing pretends.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import logging
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image

from services.images.analysis import ImageAnalysis, analyse_image
from services.llm.client import LLMClient, LLMConfig, LLMError
from services.logtext import clip
from services.settings import Settings

log = logging.getLogger(__name__)

VISION_SIDE = 768  # longest side sent to the model: enough to recognise a scene, small on the wire
MAX_CAPTION_CHARS = 300  # longer captions are cut (a summary line, not an essay)
MAX_PROMPT_CHARS = 400  # longer music prompts are cut

SYSTEM_PROMPT = (
    "You turn pictures into music prompts. Look at the image and reply with one JSON object: "
    '{"caption": "<one sentence: what the picture shows and its mood>", '
    '"music_prompt": "<one line for a music generator: genre, mood, tempo in bpm, key, instruments>"}. '
    "Describe only what you see. If the user adds words of their own, honour them in the music prompt."
)
REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "caption": {"type": "string", "description": "what the picture shows, one sentence"},
        "music_prompt": {"type": "string", "description": "a music prompt inspired by the picture"},
    },
    "required": ["caption", "music_prompt"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class ImageDescription:
    """How a picture became a text prompt, and what to tell the user about it."""

    prompt: str  # the prompt for the chosen backend (the user's own words first, when given)
    source: Literal["vision", "local"]  # who described the picture
    caption: str | None  # the vision model's caption; None for the local analysis
    analysis: ImageAnalysis  # the local analysis (always computed: summary lines and the fallback)
    model: str | None  # the vision model that answered; None for local
    notes: tuple[str, ...]  # what the user should know (the model failed, none is configured …)

    @property
    def summary(self) -> list[str]:
        """"What I saw and how it became music", one line each, ready for an embed."""
        lines: list[str] = []
        if self.source == "vision" and self.caption:
            lines.append(f"What I saw ({self.model}): {self.caption}")
        lines.extend(self.analysis.saw)
        if self.source == "local":
            lines.extend(self.analysis.became)
        lines.append(f"Prompt: {self.prompt}")
        return lines


def vision_config(settings: Settings) -> LLMConfig:
    """The shared LLM settings, but talking to VISION_MODEL."""
    return dataclasses.replace(LLMConfig.from_settings(settings), model=settings.vision_model)


def image_data_url(image: Image.Image, side: int = VISION_SIDE) -> str:
    """A base64 `data:` URL of a downscaled PNG copy (re-encoded: never the user's original bytes)."""
    small = image.convert("RGB")
    if max(small.size) > side:
        small = small.copy()
        small.thumbnail((side, side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def vision_messages(image: Image.Image, user_prompt: str | None = None) -> list[dict[str, Any]]:
    """Chat messages with the picture as an OpenAI-style image part (what vision servers accept)."""
    text = "Describe this picture as music."
    if user_prompt:
        text += f" The user adds: {user_prompt}"
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": image_data_url(image), "detail": "low"}},
            ],
        },
    ]


def _clean(value: Any, limit: int) -> str:
    text = " ".join(str(value).split()) if isinstance(value, str) else ""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _ask_vision(client: LLMClient, image: Image.Image, user_prompt: str | None) -> tuple[str, str]:
    """(caption, music prompt) from the model, or LLMError with a reason a user can read."""
    messages = vision_messages(image, user_prompt)
    # The client is typed for text-only messages; image parts are passed through to the server unchanged.
    reply = client.complete_json(
        messages, schema=REPLY_SCHEMA, schema_name="image_music"
    )
    data = reply.data if isinstance(reply.data, dict) else {}
    caption = _clean(data.get("caption"), MAX_CAPTION_CHARS)
    prompt = _clean(data.get("music_prompt"), MAX_PROMPT_CHARS)
    if not caption or not prompt:
        raise LLMError("the vision model's reply lacked a caption or a music prompt")
    return caption, prompt


def _with_user_words(user_prompt: str | None, prompt: str) -> str:
    return f"{user_prompt.strip()}, {prompt}" if user_prompt and user_prompt.strip() else prompt


def describe_image(
    image: Image.Image,
    *,
    config: LLMConfig | None,
    user_prompt: str | None = None,
    client: LLMClient | None = None,
) -> ImageDescription:
    """Caption through the vision model when `config` is configured, else (or when it fails) local analysis.

    Blocking (the LLM call runs on a private event loop): call it from a worker thread.
    """
    analysis = analyse_image(image)
    own_words = bool(user_prompt and user_prompt.strip())
    local_prompt = _with_user_words(user_prompt, analysis.mood_prompt if own_words else analysis.prompt)
    if config is None or not config.configured:
        note = "No vision model is configured, so I read the picture's colours, light and texture myself."
        return ImageDescription(local_prompt, "local", None, analysis, None, (note,))
    try:
        caption, prompt = _ask_vision(client or LLMClient(config), image, user_prompt)
    except LLMError as exc:
        log.warning("vision model %s failed: %s", config.model, clip(exc.message))
        note = (
            f"The vision model ({config.model}) could not describe the picture: {exc.message}. "
            f"I used my own colour and texture analysis instead."
        )
        return ImageDescription(local_prompt, "local", None, analysis, None, (note,))
    final = _with_user_words(user_prompt, prompt)
    return ImageDescription(final, "vision", caption, analysis, config.model, ())
