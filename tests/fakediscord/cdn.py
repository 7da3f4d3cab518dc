"""Request bodies (JSON or multipart with payload_json + files[n]) and the fake CDN that serves uploads.

discord.py sends JSON when a call carries no files and multipart/form-data otherwise; both end up here as one
payload dict plus the uploaded parts, so routes never care which encoding the client chose.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass

from aiohttp import BodyPartReader, web

from .state import JSON, SnowflakeFactory, StoredAttachment


@dataclass(frozen=True)
class UploadedPart:
    """A file part of a multipart request, before it becomes an attachment."""

    field: str  # form field name, e.g. "files[0]"
    index: int | None  # n from "files[n]", the id discord.py uses in payload["attachments"]
    filename: str  # filename from the part's Content-Disposition
    content_type: str | None  # the part's Content-Type
    data: bytes  # raw bytes


async def read_body(request: web.Request) -> tuple[JSON, list[UploadedPart]]:
    """Decode a request body into (payload, files), whichever encoding the client used."""
    if request.content_type.startswith("multipart/"):
        payload: JSON = {}
        parts: list[UploadedPart] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):  # nested multipart: Discord rejects it too
                raise web.HTTPBadRequest(text="nested multipart is not supported")
            name = part.name or ""
            data = await part.read(decode=False)
            if name == "payload_json":
                payload = json.loads(bytes(data).decode("utf-8"))
                continue
            index: int | None = None
            if name.startswith("files[") and name.endswith("]"):
                index = int(name[6:-1])
            filename = part.filename or name
            content_type = part.headers.get("Content-Type")
            parts.append(UploadedPart(name, index, filename, content_type, bytes(data)))
        return payload, parts
    raw = await request.read()
    if not raw:
        return {}, []
    decoded = json.loads(raw.decode("utf-8"))
    return (decoded if isinstance(decoded, dict) else {"__list__": decoded}), []


class Cdn:
    """Keeps every attachment's bytes and serves them under /attachments/{channel}/{id}/{filename}."""

    def __init__(self, ids: SnowflakeFactory) -> None:
        self._ids = ids
        self._files: dict[int, StoredAttachment] = {}
        self.base_url = ""  # set by the server once its port is known

    def store(
        self,
        channel_id: int,
        filename: str,
        data: bytes,
        content_type: str | None = None,
        description: str | None = None,
    ) -> StoredAttachment:
        attachment_id = self._ids.next()
        guessed = content_type or mimetypes.guess_type(filename)[0]
        url = f"{self.base_url}/attachments/{channel_id}/{attachment_id}/{filename}"
        attachment = StoredAttachment(attachment_id, filename, data, guessed, url, description)
        self._files[attachment_id] = attachment
        return attachment

    def get(self, attachment_id: int) -> StoredAttachment | None:
        return self._files.get(attachment_id)

    async def handle(self, request: web.Request) -> web.Response:
        attachment = self._files.get(int(request.match_info["attachment_id"]))
        if attachment is None or attachment.filename != request.match_info["filename"]:
            return web.Response(status=404, text="Not Found")
        return web.Response(
            body=attachment.data, content_type=attachment.content_type or "application/octet-stream"
        )
