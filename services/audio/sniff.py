"""What a file's first bytes say it is, so audio is decoded as what it is and not as what it is called.

Why: an attachment's name is chosen by the sender. An MP3 renamed .wav is still good audio, a picture
renamed .wav deserves a sentence saying so ("that file is a PNG picture") rather than a decoder's
complaint, and an .ogg may hold Vorbis or Opus (Discord's voice messages), which need different decoders.
"""

from __future__ import annotations

_OGG_CODECS = ((b"OpusHead", "opus"), (b"\x01vorbis", "vorbis"), (b"\x7fFLAC", "flac"))


def audio_format(data: bytes) -> str | None:
    """'wav', 'mp3', 'ogg' or 'flac' when the bytes start like that container, else None."""
    if data[:4] in (b"RIFF", b"RIFX", b"RF64") and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:3] == b"ID3" or _mpeg_audio_sync(data):
        return "mp3"
    return None


def _mpeg_audio_sync(data: bytes) -> bool:
    """An MPEG audio frame header: 11 sync bits and a layer (AAC's ADTS sync has layer 0: not MP3)."""
    return len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0 and data[1] & 0x06 != 0


def ogg_codec(data: bytes) -> str | None:
    """The codec of an Ogg stream's first packet ('opus', 'vorbis', 'flac'), or None."""
    head = data[:512]
    found = [(head.find(marker), codec) for marker, codec in _OGG_CODECS if marker in head]
    return min(found)[1] if found else None


def other_kind(data: bytes) -> str | None:
    """A plain-words name for common files that are not audio we decode ('a PNG picture'), or None."""
    head = data[:64]
    if head.startswith(b"\x89PNG"):
        return "a PNG picture"
    if head.startswith(b"\xff\xd8\xff"):
        return "a JPEG picture"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "a GIF picture"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP picture"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "an AVI video"
    if head[4:8] == b"ftyp":
        return "an MP4/M4A file (audio or video in a format I can't read yet)"
    if head[:4] == b"\x1aE\xdf\xa3":
        return "a WebM/MKV file (a format I can't read yet)"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "a ZIP archive"
    if head[:4] == b"MThd":
        return "a MIDI file (notes, not recorded sound)"
    text = data[:512]
    if text and all(32 <= byte < 127 or byte in (9, 10, 13) for byte in text):
        return "a text file"
    return None
