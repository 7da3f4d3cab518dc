"""Where a user's file is: Discord's attachment (or embed image) as a name, a declared size and a URL.

Nothing is downloaded here. The URL goes into the request and the job service fetches it after the
job is recorded (services/inputs.py: timeouts, a byte cap, a clear message for every failure), so a
crash mid-download loses nothing. This module's one job is to vouch for the URL: only Discord's own
media hosts, never any URL a message happens to contain.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

import discord

from services.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
DISCORD_MEDIA_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})


@dataclass(frozen=True)
class MediaSource:
    """A file a user gave us: an attachment, or an embed image proxied by Discord."""

    name: str
    size: int | None  # declared size, when Discord tells it (checked, never trusted)
    url: str  # where Discord serves it


def from_attachment(attachment: discord.Attachment) -> MediaSource:
    return MediaSource(attachment.filename, attachment.size, attachment.url)


def looks_like_image(attachment: discord.Attachment) -> bool:
    content_type = (attachment.content_type or "").lower()
    return content_type.startswith("image/") or attachment.filename.lower().endswith(IMAGE_SUFFIXES)


def first_image(message: discord.Message) -> MediaSource | None:
    """The message's first image attachment, else its first embed image served through Discord."""
    for attachment in message.attachments:
        if looks_like_image(attachment):
            return from_attachment(attachment)
    for embed in message.embeds:
        for media in (embed.image, embed.thumbnail):
            url = media.proxy_url or media.url
            if url and _is_discord_media(url):
                return MediaSource(urlparse(url).path.rsplit("/", 1)[-1] or "image", None, url)
    return None


def _is_discord_media(url: str) -> bool:
    """Only Discord's media hosts (and the API host itself, which tests point elsewhere): never any URL."""
    parsed = urlparse(url)
    api = urlparse(discord.http.Route.BASE)
    if parsed.hostname and parsed.hostname == api.hostname and parsed.scheme == api.scheme:
        return True
    return parsed.scheme == "https" and parsed.hostname in DISCORD_MEDIA_HOSTS


def vetted_url(source: MediaSource) -> str:
    """The source's URL, once it is known to be Discord's own media; else a UserError."""
    if not _is_discord_media(source.url):
        raise UserError("I can only download files that Discord itself hosts. Please attach the file.")
    return source.url
