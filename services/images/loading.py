"""Safe loading of whatever file a user attaches, as an RGB picture small enough to analyse.

Why so careful: an attachment is untrusted bytes. Its name and content type are chosen by the sender, so the
format is read from the bytes themselves; Pillow is told which single decoder to use; the pixel count is
checked from the header before any pixel is decoded (a 30,000 × 30,000 PNG is 100 KB on disk and 900 MB in
memory); and every way a file can be wrong gets its own sentence, because "invalid image" helps nobody.
"""

from __future__ import annotations

import contextlib
import io
import re
import struct
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from services.errors import UserError

ALLOWED = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")  # formats we decode (Pillow's names)
DEFAULT_MAX_BYTES = 25 * 1024 * 1024  # Discord's own upload limit for most servers
DEFAULT_MAX_PIXELS = 40_000_000  # ~8000 × 5000: any phone photo; 160 MB as RGBA while decoding
DEFAULT_MAX_SIDE = 2048  # longest side kept after loading; analysis and sonify need far less
BACKGROUND = (255, 255, 255)  # what transparent areas are composited over
_SUPPORTED_LIST = "PNG, JPEG, WebP, GIF, BMP or TIFF"


class ImageRejected(UserError):
    """The attachment cannot be used as a picture; `message` is the sentence a Discord user reads."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # short stable code ("empty", "svg", "bomb" …) for logs and tests


@dataclass(frozen=True)
class LoadedImage:
    """A decoded, upright, RGB picture and what loading had to do to get it."""

    image: Image.Image  # mode RGB, EXIF orientation applied, longest side <= the max_side asked for
    format: str  # the format identified from the bytes: one of ALLOWED
    original_size: tuple[int, int]  # (width, height) as stored in the file, before orientation/downscale
    animated: bool  # the file had several frames; only the first was used
    notes: tuple[str, ...]  # plain-words notes for the summary ("used the first frame of an animated GIF")


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _too_large(size: int, limit: int) -> ImageRejected:
    return ImageRejected(
        "too_large", f"That image is {_mb(size)}; the limit here is {_mb(limit)}. Send a smaller file."
    )


def check_declared_size(size: int | None, limit: int) -> None:
    """Refuse by the size Discord declares for an attachment, before downloading a byte of it."""
    if size is None:
        return
    if size <= 0:
        raise _empty()
    if size > limit:
        raise _too_large(size, limit)


def _empty() -> ImageRejected:
    return ImageRejected("empty", "That file is empty (0 bytes): there is no picture in it to hear.")


# --- what the bytes are ------------------------------------------------------------------------------

_MARKUP_RE = re.compile(rb"<(?:script|html|svg|iframe|body|\?php|!doctype)[\s>/]", re.IGNORECASE)
_BOM = b"\xef\xbb\xbf"
_HTML_STARTS = (b"<!doctype", b"<html", b"<head", b"<body", b"<script", b"<meta", b"<iframe", b"<!--")


def _sniff(data: bytes) -> str | None:
    """The allowed format the magic number names, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:2] == b"BM" and len(data) >= 18 and struct.unpack("<I", data[14:18])[0] in (12, 40, 52, 56, 64,
                                                                                          108, 124):
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    return None


def _refuse_non_image(data: bytes, name: str | None) -> ImageRejected:
    """The clearest sentence for bytes that are not one of the allowed images."""
    head = data[:2048].removeprefix(_BOM).lstrip()
    lower = head.lower()
    called = f"“{name}”" if name else "That file"
    if lower.startswith(b"<svg") or (lower.startswith(b"<?xml") and b"<svg" in lower):
        return ImageRejected(
            "svg",
            f"{called} is an SVG drawing: SVG is code that draws a picture, and I only read pixels. "
            f"Export it as PNG and send that.",
        )
    if lower.startswith(_HTML_STARTS):
        named_like_image = name is not None and name.lower().rsplit(".", 1)[-1] in (
            "png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff")  # fmt: skip
        why = " despite its image name" if named_like_image else ""
        return ImageRejected(
            "html", f"{called} is a web page (HTML){why}, not a picture. Save the image itself and send that."
        )
    if b"%PDF-" in data[:1024]:
        return ImageRejected(
            "pdf", f"{called} is a PDF document, not a picture. Send a screenshot or an exported image."
        )
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return ImageRejected(
            "archive", f"{called} is a ZIP archive (or an Office file), not a picture. Send one image."
        )
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis"):
        return ImageRejected(
            "unsupported", f"{called} is a HEIC/AVIF photo, which I can't read yet. Send it as JPEG or PNG."
        )
    return ImageRejected(
        "unknown", f"I can't recognise {called.lower() if not name else called} as a picture. "
        f"Send a {_SUPPORTED_LIST} image.",
    )


def _zip_at_end(data: bytes) -> bool:
    """A ZIP end-of-central-directory record that ends exactly at the end of the file (image+ZIP polyglot)."""
    tail_start = max(0, len(data) - 22 - 65_535)
    at = data.rfind(b"PK\x05\x06", tail_start)
    while at != -1:
        if at + 22 <= len(data):
            comment = struct.unpack("<H", data[at + 20 : at + 22])[0]
            if at + 22 + comment == len(data):
                return True
        at = data.rfind(b"PK\x05\x06", tail_start, at)
    return False


def _check_polyglot(data: bytes, fmt: str) -> None:
    """Refuse files that are a valid image and also something else (a page, a script, an archive, a PDF)."""
    if _MARKUP_RE.search(data) or _zip_at_end(data) or b"%PDF-" in data[:1024]:
        raise ImageRejected(
            "polyglot",
            f"That file starts as a {fmt} image but also carries another file type inside it (web page, "
            f"script, archive or PDF). I don't open disguised files: re-save the picture and send it again.",
        )


def _truncated(fmt: str) -> ImageRejected:
    return ImageRejected(
        "truncated",
        f"That {fmt} file is cut short: the picture stops part-way (an interrupted download or upload?). "
        f"Send the complete file.",
    )


def _corrupt(fmt: str) -> ImageRejected:
    return ImageRejected(
        "corrupt", f"That {fmt} file is damaged: its data can't be decoded as a picture. Try re-saving it."
    )


def _check_structure(data: bytes, fmt: str) -> None:
    """Cheap end-of-file checks where the format states its own length or end marker."""
    if fmt == "PNG" and b"IEND" not in data[-64:]:
        raise _truncated(fmt)
    if fmt == "WEBP" and len(data) >= 8 and len(data) < struct.unpack("<I", data[4:8])[0] + 8:
        raise _truncated(fmt)
    if fmt == "BMP":
        declared = struct.unpack("<I", data[2:6])[0]
        offset = struct.unpack("<I", data[10:14])[0] if len(data) >= 14 else 0
        if (declared and len(data) < declared) or len(data) <= offset:
            raise _truncated(fmt)


# --- decoding ---------------------------------------------------------------------------------------


_pillow_limit_lock = threading.Lock()


@contextlib.contextmanager
def _pillow_bomb_limit(max_pixels: int) -> Iterator[None]:
    """Pillow's own decompression-bomb guard set to our cap while we decode, then put back.

    It is the second line of defence (our header check refuses first, with a clearer message). The limit
    is process-wide, so decodes hold a lock rather than leave a caller's cap behind for unrelated code
    (the riffusion codec, previews) or race another thread's value.
    """
    with _pillow_limit_lock:
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def _is_truncation(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("truncated", "end of file", "eof", "not enough data", "premature"))


def _sixteen_bit_to_rgb(image: Image.Image) -> Image.Image:
    """I;16 / I / F → 8-bit grey scaled by the range in use (Pillow's own convert clips at 255: all white)."""
    values = np.asarray(image, dtype=np.float64)
    finite = values[np.isfinite(values)]
    top = float(finite.max()) if finite.size else 0.0
    bottom = float(finite.min()) if finite.size else 0.0
    if image.mode == "F" or bottom < 0 or top > 65_535:
        scaled = (values - bottom) / max(top - bottom, 1e-12)
    elif top > 255:
        scaled = values / 65_535.0
    else:
        scaled = values / 255.0
    grey = np.round(np.clip(np.nan_to_num(scaled), 0.0, 1.0) * 255.0).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")


def to_rgb(image: Image.Image, background: tuple[int, int, int] = BACKGROUND) -> Image.Image:
    """Any Pillow mode → RGB; transparency is composited over `background` rather than dropped to black."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I") or mode == "F":
        return _sixteen_bit_to_rgb(image)
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in image.info)
    if mode in ("L", "LA") and "transparency" in image.info:
        has_alpha = True
    if has_alpha:
        rgba = image.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (*background, 255))
        flat.alpha_composite(rgba)
        return flat.convert("RGB")
    return image.convert("RGB")


def load_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int = DEFAULT_MAX_SIDE,
    name: str | None = None,
) -> LoadedImage:
    """Identify, check and decode untrusted bytes into an upright RGB picture, or raise ImageRejected.

    `name` is only used to word messages ("“cat.png” is a web page"), never to decide the format. Blocking.
    """
    if not data:
        raise _empty()
    if len(data) > max_bytes:
        raise _too_large(len(data), max_bytes)
    fmt = _sniff(data)
    if fmt is None:
        raise _refuse_non_image(data, name)
    _check_polyglot(data, fmt)
    _check_structure(data, fmt)
    with _pillow_bomb_limit(max_pixels):
        return _open_and_decode(data, fmt, max_pixels, max_side)


def _open_and_decode(data: bytes, fmt: str, max_pixels: int, max_side: int) -> LoadedImage:
    """Open the header, check the pixel count, then decode (under the caller's Pillow limit)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[fmt])  # header only: no pixels yet
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb(_pixels_in(exc), max_pixels) from None
    except (UnidentifiedImageError, SyntaxError, ValueError, struct.error) as exc:
        raise (_truncated(fmt) if _is_truncation(exc) else _corrupt(fmt)) from None
    except OSError as exc:
        raise (_truncated(fmt) if _is_truncation(exc) else _corrupt(fmt)) from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise _corrupt(fmt)
    if width * height > max_pixels:
        raise _bomb(width * height, max_pixels, (width, height))
    return _decode(image, fmt, max_side)


def _pixels_in(exc: Exception) -> int | None:
    """The pixel count Pillow's bomb guard states in its message ("Image size (900000000 pixels) …")."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    return int(found.group(1)) if found else None


def _pixel_count(pixels: int) -> str:
    return f"{pixels / 1e6:,.0f} megapixels" if pixels >= 10_000_000 else f"{pixels:,} pixels"


def _bomb(pixels: int | None, max_pixels: int, size: tuple[int, int] | None = None) -> ImageRejected:
    if size:
        stated = f"{size[0]:,} × {size[1]:,} pixels"
    elif pixels:
        stated = _pixel_count(pixels)
    else:
        stated = "more pixels than allowed"
    return ImageRejected(
        "too_many_pixels",
        f"That picture is {stated}; the limit is {_pixel_count(max_pixels)}. "
        f"Send a smaller version (a screenshot works).",
    )


def _decode(image: Image.Image, fmt: str, max_side: int) -> LoadedImage:
    """Decode the first frame, orient it, flatten it to RGB and downscale it."""
    notes: list[str] = []
    original = image.size
    try:
        animated = bool(getattr(image, "is_animated", False))
        if animated:
            image.seek(0)
            notes.append(f"animated {fmt}: I used its first frame")
        if fmt == "JPEG" and max(original) > 2 * max_side:
            image.draft("RGB", (max_side, max_side))  # decode at 1/2, 1/4 or 1/8 scale: far less memory
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb(_pixels_in(exc), int(Image.MAX_IMAGE_PIXELS or 0), original) from None  # limit: ours
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError) as exc:
        cut = _is_truncation(exc) or isinstance(exc, EOFError)
        raise (_truncated(fmt) if cut else _corrupt(fmt)) from None
    try:
        upright = ImageOps.exif_transpose(image)
        if upright is not None and upright.size != image.size:
            notes.append("turned upright as its camera data asked")
        image = upright if upright is not None else image
    except (OSError, ValueError, SyntaxError, struct.error, TypeError, KeyError):
        notes.append("its orientation data was unreadable, so I left it as stored")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        notes.append("transparent areas were shown on white")
    rgb = to_rgb(image)
    if max(rgb.size) > max_side:
        rgb = rgb.copy()
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return LoadedImage(image=rgb, format=fmt, original_size=original, animated=animated, notes=tuple(notes))


def analysis_copy(image: Image.Image, side: int = 256) -> Image.Image:
    """A small RGB copy (longest side <= `side`) for colour and texture statistics: fast and stable."""
    small = image.convert("RGB") if image.mode != "RGB" else image.copy()
    if max(small.size) > side:
        small.thumbnail((side, side), Image.Resampling.BOX)
    return small
