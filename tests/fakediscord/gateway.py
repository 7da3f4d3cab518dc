"""The gateway websocket: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME, sequence numbers.

Frames go out as uncompressed TEXT. discord.py asks for `compress=zlib-stream` (or zstd-stream when a zstd
module is importable) but only runs its decompressor on BINARY frames, so text frames work whichever it asked
for.
Sessions outlive their sockets: a client may RESUME (missed events are replayed) or IDENTIFY afresh, and a new
bot instance after a restart simply IDENTIFYs again against the same state.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from .state import JSON
from .store import Store

OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_PRESENCE, OP_VOICE = 0, 1, 2, 3, 4
OP_RESUME, OP_RECONNECT, OP_REQUEST_MEMBERS, OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = (
    6,
    7,
    8,
    9,
    10,
    11,
)

# Events kept per session for RESUME replay.
REPLAY_BUFFER = 1000


@dataclass
class GatewaySession:
    """One identified gateway session; its socket may come and go (RESUME re-attaches a new one)."""

    session_id: str  # sent in READY, needed to RESUME
    intents: int  # intents from IDENTIFY
    seq: int = 0  # last sequence number sent
    ws: web.WebSocketResponse | None = None  # current socket, None while disconnected
    sent: list[tuple[int, JSON]] = field(default_factory=list)  # (seq, frame) kept for RESUME replay
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # keeps seq order == send order
    identified_at: float = field(default_factory=time.monotonic)  # time.monotonic() of IDENTIFY
    resumes: int = 0  # how many times this session was resumed
    ready: bool = False  # READY and every GUILD_CREATE have been sent


@dataclass(frozen=True)
class GatewayClose:
    """A gateway socket that ended, and how."""

    at: float  # time.monotonic() when it ended
    session_id: str | None  # its session (None before IDENTIFY)
    code: int | None  # the close frame's code (discord.py's close() sends 4000); 1006: no close frame

    @property
    def clean(self) -> bool:
        """A close frame was exchanged (the client shut down properly), not a connection that vanished."""
        return self.code is not None and self.code != 1006


@dataclass(frozen=True)
class Heartbeat:
    """A heartbeat (op 1) the fake received."""

    at: float  # time.monotonic() when it arrived
    session_id: str | None  # session of the socket it came on (None before IDENTIFY)
    seq: int | None  # the sequence number the client reported


class Gateway:
    """Accepts gateway websockets and sends events to the bot."""

    def __init__(self, store: Store, *, heartbeat_interval: float) -> None:
        self.store = store
        self.heartbeat_interval = heartbeat_interval
        self.sessions: dict[str, GatewaySession] = {}
        self.current: GatewaySession | None = None  # the most recently identified or resumed session
        self.heartbeats: list[Heartbeat] = []
        self.identifies = 0  # IDENTIFY count (a restart or a failed resume adds one)
        self.ws_url = ""  # set by the server once its port is known
        self.sockets: set[web.WebSocketResponse] = set()
        self.received: list[JSON] = []  # every frame the client sent, for debugging and assertions
        self.closes: list[GatewayClose] = []  # every socket that ended, in order

    @property
    def connected(self) -> bool:
        current = self.current
        return current is not None and current.ready and current.ws is not None and not current.ws.closed

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        self.sockets.add(ws)
        session: GatewaySession | None = None
        try:
            await ws.send_str(
                json.dumps({"op": OP_HELLO, "d": {"heartbeat_interval": self.heartbeat_interval * 1000}})
            )
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                self.received.append(frame)
                session = await self._on_frame(ws, session, frame)
        finally:
            self.sockets.discard(ws)
            code = ws.close_code
            self.closes.append(GatewayClose(time.monotonic(), session.session_id if session else None, code))
            if session is not None and session.ws is ws:
                session.ws = None
            self.store.changes.notify()
        return ws

    async def _on_frame(
        self, ws: web.WebSocketResponse, session: GatewaySession | None, frame: JSON
    ) -> GatewaySession | None:
        op = frame.get("op")
        raw = frame.get("d")
        data: JSON = raw if isinstance(raw, dict) else {}
        if op == OP_HEARTBEAT:
            seq = raw if isinstance(raw, int) else None
            self.heartbeats.append(Heartbeat(time.monotonic(), session.session_id if session else None, seq))
            await ws.send_str(json.dumps({"op": OP_HEARTBEAT_ACK}))
            self.store.changes.notify()
            return session
        if op == OP_IDENTIFY:
            if data.get("token") != self.store.bot_token:
                await ws.close(code=4004, message=b"Authentication failed.")
                return session
            return await self._identify(ws, data)
        if op == OP_RESUME:
            return await self._resume(ws, data)
        if op == OP_REQUEST_MEMBERS and session is not None:
            await self._send_member_chunk(session, data)
        return session

    async def _identify(self, ws: web.WebSocketResponse, data: JSON) -> GatewaySession:
        session = GatewaySession(secrets.token_hex(16), int(data.get("intents", 0)), ws=ws)
        self.sessions[session.session_id] = session
        self.current = session
        self.identifies += 1
        store = self.store
        ready = {
            "v": 10,
            "user": store.bot.payload(),
            "guilds": [{"id": str(g), "unavailable": True} for g in store.guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.ws_url,
            "application": {"id": str(store.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "auth_session_id_hash": "",
        }
        await self.send(session, "READY", ready)
        for guild in list(store.guilds.values()):
            await self.send(session, "GUILD_CREATE", guild.payload(store.users))
        session.ready = True
        store.changes.notify()
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: JSON) -> GatewaySession | None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.store.bot_token:
            await ws.send_str(json.dumps({"op": OP_INVALID_SESSION, "d": False}))
            return None
        old = session.ws
        session.ws = ws
        session.resumes += 1
        self.current = session
        if old is not None and old is not ws and not old.closed:
            await old.close(code=4000)
        last_seen = int(data.get("seq") or 0)
        async with session.lock:
            for seq, frame in session.sent:
                if seq > last_seen:
                    await ws.send_str(json.dumps(frame))
        await self.send(session, "RESUMED", {})
        self.store.changes.notify()
        return session

    async def _send_member_chunk(self, session: GatewaySession, data: JSON) -> None:
        guild = self.store.guilds.get(int(data.get("guild_id", 0)))
        if guild is None:
            return
        chunk: JSON = {
            "guild_id": str(guild.id),
            "members": [guild.member_payload(self.store.users[u]) for u in guild.member_ids],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self.send(session, "GUILD_MEMBERS_CHUNK", chunk)

    async def send(self, session: GatewaySession, event: str, data: JSON) -> None:
        """Send one DISPATCH with the next sequence number (kept for replay even while disconnected)."""
        async with session.lock:
            session.seq += 1
            frame = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data}
            session.sent.append((session.seq, frame))
            del session.sent[:-REPLAY_BUFFER]
            if session.ws is not None and not session.ws.closed:
                try:
                    await session.ws.send_str(json.dumps(frame))
                except (ConnectionResetError, RuntimeError):
                    session.ws = None

    async def dispatch(self, event: str, data: JSON) -> None:
        """Send an event to the bot's current session, if any (like Discord: nobody hears it otherwise)."""
        if self.current is not None:
            await self.send(self.current, event, data)

    # -- test controls ---------------------------------------------------------------------------------------
    async def drop_connection(self, code: int = 4000) -> None:
        """Close the bot's socket from the server side; discord.py reconnects and RESUMEs."""
        if self.current is not None and self.current.ws is not None:
            await self.current.ws.close(code=code)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT, as Discord does before moving a session."""
        if self.current is not None and self.current.ws is not None:
            await self.current.ws.send_str(json.dumps({"op": OP_RECONNECT, "d": None}))

    async def invalidate_session(self) -> None:
        """Forget the current session and send op 9 (not resumable): the client must IDENTIFY again."""
        session = self.current
        if session is None or session.ws is None:
            return
        self.sessions.pop(session.session_id, None)
        await session.ws.send_str(json.dumps({"op": OP_INVALID_SESSION, "d": False}))

    async def close_all(self) -> None:
        for ws in list(self.sockets):
            await ws.close(code=1001, message=b"fake discord shutting down")
