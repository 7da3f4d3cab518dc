"""Fetching what users attach, safely: sizes checked before download, only Discord's own media hosts.

The bytes are not trusted here: services/images identifies and decodes them in a worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import discord

from services.errors import UserError

AUDIO_SUFFIXES = (".mp3", ".wav", ".ogg", ".oga", ".opus", ".flac")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
DISCORD_MEDIA_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})


@dataclass(frozen=True)
class ImageSource:
    """Where a message's picture is: an attachment, or an embed image proxied by Discord."""

    name: str
    size: int | None  # declared size, when Discord tells it
    attachment: discord.Attachment | None = None
    url: str | None = None  # Discord-proxied embed image


def looks_like_image(attachment: discord.Attachment) -> bool:
    content_type = (attachment.content_type or "").lower()
    return content_type.startswith("image/") or attachment.filename.lower().endswith(IMAGE_SUFFIXES)


def first_image(message: discord.Message) -> ImageSource | None:
    """The message's first image attachment, else its first embed image served through Discord."""
    for attachment in message.attachments:
        if looks_like_image(attachment):
            return ImageSource(attachment.filename, attachment.size, attachment=attachment)
    for embed in message.embeds:
        for media in (embed.image, embed.thumbnail):
            url = media.proxy_url or media.url
            if url and _is_discord_media(url):
                return ImageSource(urlparse(url).path.rsplit("/", 1)[-1] or "image", None, url=url)
    return None


def _is_discord_media(url: str) -> bool:
    """Only Discord's media hosts (and the API host itself, which tests point elsewhere): never any URL."""
    host = urlparse(url).hostname or ""
    api_host = urlparse(discord.http.Route.BASE).hostname or ""
    return host in DISCORD_MEDIA_HOSTS or host == api_host


def check_size(size: int | None, limit: int) -> None:
    """Refuse before downloading when Discord already says the file is too big."""
    if size is not None and size > limit:
        raise UserError(f"That file is {size / 2**20:.1f} MB; the most I can take is {limit / 2**20:.0f} MB.")


async def download(client: discord.Client, source: ImageSource, limit: int) -> bytes:
    """The bytes of an image source, refusing anything over `limit`."""
    check_size(source.size, limit)
    try:
        if source.attachment is not None:
            data = await source.attachment.read()
        elif source.url is not None:
            http: Any = client.http
            data = await http.get_from_cdn(source.url)
        else:
            raise UserError("I couldn't find a picture there.")
    except discord.HTTPException as exc:
        raise UserError(
            f"I couldn't download that file from Discord ({exc.status}). Please try again."
        ) from None
    if len(data) > limit:
        raise UserError(f"That file is over {limit / 2**20:.0f} MB, the most I can take.")
    return data
