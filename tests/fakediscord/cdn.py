"""Request bodies (JSON or multipart with payload_json + files[n]) and the fake CDN that serves uploads.

The CDN can misbehave per file (`Cdn.fault` with a `CdnFault`): an HTTP error, a stall after the headers,
a connection cut mid-body, a Content-Length that lies, chunked transfer, a slow trickle.

discord.py sends JSON when a call carries no files and multipart/form-data otherwise; both end up here as one
payload dict plus the uploaded parts, so routes never care which encoding the client chose.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
from collections import Counter
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


@dataclass(frozen=True)
class CdnFault:
    """How the fake CDN misbehaves for one file, the ways real networks do (see `Cdn.fault`)."""

    status: int | None = None  # answer with this HTTP status (and no file), e.g. 503, 404
    stall_after: int | None = None  # send the headers and this many bytes, then nothing (until hang-up)
    drop_after: int | None = None  # send the headers and this many bytes, then cut the connection
    content_length: int | None = None  # the Content-Length header claims this (cut after the body if more)
    chunked: bool = False  # no Content-Length at all: chunked transfer, the size is known only at the end
    chunk_size: int = 64 * 1024  # bytes per write
    chunk_delay_s: float = 0.0  # pause after each write (a slow trickle that never quite stalls)


class Cdn:
    """Keeps every attachment's bytes and serves them under /attachments/{channel}/{id}/{filename}."""

    def __init__(self, ids: SnowflakeFactory) -> None:
        self._ids = ids
        self._files: dict[int, StoredAttachment] = {}
        self._faults: dict[int, CdnFault] = {}
        self._closed = asyncio.Event()
        self.hits: Counter[int] = Counter()  # GETs per attachment id, faulty ones included
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

    def fault(self, attachment: StoredAttachment, fault: CdnFault | None) -> None:
        """Serve `attachment` with `fault` from the next request on (None: serve it properly again).
        Requests already held by a stall stay held until their client hangs up."""
        if fault is None:
            self._faults.pop(attachment.id, None)
        else:
            self._faults[attachment.id] = fault

    def delete(self, attachment: StoredAttachment) -> None:
        """The file is gone (deleted message, expired link): the CDN answers 404 from now on."""
        self._files.pop(attachment.id, None)

    def close(self) -> None:
        """Let held (stalled) requests end, so the server can shut down promptly."""
        self._closed.set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        attachment_id = int(request.match_info["attachment_id"])
        self.hits[attachment_id] += 1
        attachment = self._files.get(attachment_id)
        if attachment is None or attachment.filename != request.match_info["filename"]:
            return web.Response(status=404, text="Not Found")
        fault = self._faults.get(attachment_id)
        content_type = attachment.content_type or "application/octet-stream"
        if fault is None:
            return web.Response(body=attachment.data, content_type=content_type)
        if fault.status is not None:
            return web.Response(status=fault.status, text=f"fake CDN fault {fault.status}")
        return await self._misbehave(request, attachment.data, content_type, fault)

    async def _misbehave(
        self, request: web.Request, data: bytes, content_type: str, fault: CdnFault
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": content_type})
        if fault.chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = fault.content_length if fault.content_length is not None else len(data)
        await response.prepare(request)
        cut = fault.stall_after if fault.stall_after is not None else fault.drop_after
        body = data if cut is None else data[:cut]
        for start in range(0, len(body), fault.chunk_size):
            await response.write(body[start : start + fault.chunk_size])
            if fault.chunk_delay_s:
                await asyncio.sleep(fault.chunk_delay_s)
        claims_more = response.content_length is not None and response.content_length > len(body)
        if fault.stall_after is not None:
            await self._hold(request)
        elif fault.drop_after is not None or claims_more:
            if request.transport is not None:
                request.transport.close()  # mid-body: the client sees the connection drop
        else:
            await response.write_eof()
        return response

    async def _hold(self, request: web.Request) -> None:
        """Send nothing more until the client hangs up (or the fake shuts down)."""
        while not self._closed.is_set():
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            await asyncio.sleep(0.05)
