"""Safe image loading: every allowed format and mode becomes RGB; every bad file gets its own sentence."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from services.images.loading import ImageRejected, check_declared_size, load_image

REPO = Path(__file__).resolve().parents[1]


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def red_in(mode: str, size: tuple[int, int] = (40, 30)) -> Image.Image:
    """A solid picture whose RGB meaning is known, stored in `mode`."""
    if mode == "RGBA":
        return Image.new("RGBA", size, (255, 0, 0, 255))
    if mode == "P":
        return Image.new("RGB", size, (255, 0, 0)).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    if mode == "CMYK":
        return Image.new("CMYK", size, (0, 255, 255, 0))  # no cyan, full magenta and yellow: red
    if mode == "L":
        return Image.new("L", size, 128)
    if mode == "I;16":
        sixteen = Image.fromarray(np.full(size[::-1], 32_768, dtype=np.uint16))
        assert sixteen.mode == "I;16"
        return sixteen
    return Image.new("RGB", size, (255, 0, 0))


EXPECTED = {"RGBA": (255, 0, 0), "P": (255, 0, 0), "CMYK": (255, 0, 0), "L": (128, 128, 128),
            "I;16": (128, 128, 128), "RGB": (255, 0, 0)}  # fmt: skip

CASES = [
    ("PNG", "RGBA"), ("PNG", "P"), ("PNG", "I;16"), ("PNG", "L"), ("PNG", "RGB"),
    ("JPEG", "CMYK"), ("JPEG", "L"), ("JPEG", "RGB"),
    ("WEBP", "RGBA"), ("WEBP", "RGB"),
    ("GIF", "P"), ("GIF", "L"),
    ("BMP", "P"), ("BMP", "L"), ("BMP", "RGB"), ("BMP", "RGBA"),
    ("TIFF", "CMYK"), ("TIFF", "I;16"), ("TIFF", "L"), ("TIFF", "RGBA"), ("TIFF", "P"),
]  # fmt: skip


@pytest.mark.parametrize(("fmt", "mode"), CASES)
def test_every_format_and_mode_loads_as_rgb(fmt: str, mode: str) -> None:
    options: dict[str, object] = {"lossless": True} if fmt == "WEBP" else {}
    data = encode(red_in(mode), fmt, **options)
    loaded = load_image(data, name=f"picture.{fmt.lower()}")
    assert loaded.format == fmt
    assert loaded.image.mode == "RGB"
    assert loaded.image.size == (40, 30)
    assert loaded.original_size == (40, 30)
    centre = np.asarray(loaded.image)[15, 20].astype(int)
    tolerance = 20 if fmt == "JPEG" else 3
    assert np.abs(centre - np.array(EXPECTED[mode])).max() <= tolerance, (fmt, mode, centre)


def test_sixteen_bit_uses_its_full_range() -> None:
    """Pillow's own I;16 → L conversion clips at 255 (all white); ours keeps the gradient."""
    ramp = np.tile(np.linspace(0, 65_535, 64).astype(np.uint16), (8, 1))
    loaded = load_image(encode(Image.fromarray(ramp), "PNG"))
    row = np.asarray(loaded.image)[4, :, 0].astype(int)
    assert row[0] <= 2 and row[-1] >= 253
    assert np.all(np.diff(row) >= 0)


def test_transparency_is_composited_over_white() -> None:
    half = Image.new("RGBA", (16, 16), (255, 0, 0, 128))
    loaded = load_image(encode(half, "PNG"))
    r, g, b = np.asarray(loaded.image)[8, 8].astype(int)
    assert r == 255 and 120 <= g <= 135 and 120 <= b <= 135
    assert any("transparent" in note for note in loaded.notes)


def test_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (32, 32), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    loaded = load_image(data)
    assert loaded.animated
    r, g, b = np.asarray(loaded.image)[16, 16].astype(int)
    assert r > 200 and g < 40 and b < 40
    assert any("first frame" in note for note in loaded.notes)


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (64, 32), (0, 0, 255))
    image.paste((255, 255, 0), (0, 0, 32, 32))  # left half yellow
    exif = image.getexif()
    exif[0x0112] = 6  # stored rotated: display turned 90° clockwise
    loaded = load_image(encode(image, "JPEG", exif=exif, quality=95))
    assert loaded.image.size == (32, 64)
    top = np.asarray(loaded.image)[4, 16].astype(int)  # the stored left half ends up on top
    assert top[0] > 200 and top[1] > 200 and top[2] < 60


def test_large_images_are_downscaled() -> None:
    loaded = load_image(encode(Image.new("RGB", (3000, 1000), (9, 9, 9)), "PNG"), max_side=1024)
    assert loaded.image.size == (1024, 341)
    assert loaded.original_size == (3000, 1000)
    big_jpeg = encode(Image.new("RGB", (5000, 1000), (9, 9, 9)), "JPEG")
    assert max(load_image(big_jpeg, max_side=1024).image.size) == 1024


def test_the_name_is_never_trusted() -> None:
    png = encode(Image.new("RGB", (8, 8), (1, 2, 3)), "PNG")
    assert load_image(png, name="drawing.svg").format == "PNG"


# --- bad files --------------------------------------------------------------------------------------


def png_with_zip_appended() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("payload.txt", "hello")
    return encode(Image.new("RGB", (8, 8), (0, 0, 0)), "PNG") + archive.getvalue()


def damaged_png() -> bytes:
    noisy = Image.effect_noise((128, 128), 60).convert("RGB")
    data = bytearray(encode(noisy, "PNG"))
    at = data.find(b"IDAT")
    data[at + 20 : at + 220] = bytes(200)
    return bytes(data)


BAD_FILES: dict[str, tuple[bytes, str | None]] = {
    "empty": (b"", "song.png"),
    "truncated": (encode(Image.effect_noise((128, 128), 60).convert("RGB"), "PNG")[:900], "cut.png"),
    "corrupt": (damaged_png(), "broken.png"),
    "svg": (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
            b'<rect width="10" height="10"/></svg>', "logo.svg"),
    "html": (b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>", "cat.png"),
    "polyglot": (png_with_zip_appended(), "innocent.png"),
    "pdf": (b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "doc.png"),
    "archive": (b"PK\x03\x04" + bytes(40), "pics.png"),
    "unknown": (b"just some text, not a picture at all", None),
}  # fmt: skip


def reject(data: bytes, name: str | None = None, **limits: int) -> ImageRejected:
    with pytest.raises(ImageRejected) as caught:
        load_image(data, name=name, **limits)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize("reason", sorted(BAD_FILES))
def test_each_bad_file_is_refused_for_its_own_reason(reason: str) -> None:
    data, name = BAD_FILES[reason]
    assert reject(data, name).reason == reason


def test_every_refusal_has_its_own_clear_message() -> None:
    messages = {reason: reject(data, name).message for reason, (data, name) in BAD_FILES.items()}
    messages["too_large"] = reject(encode(Image.new("RGB", (64, 64)), "BMP"), max_bytes=1000).message
    messages["too_many_pixels"] = reject(encode(Image.new("L", (200, 200)), "PNG"), max_pixels=10_000).message
    assert len(set(messages.values())) == len(messages)
    assert "“cat.png” is a web page" in messages["html"] and "image name" in messages["html"]
    assert "SVG" in messages["svg"]
    assert "empty" in messages["empty"]
    assert "cut short" in messages["truncated"]
    assert "damaged" in messages["corrupt"]
    assert "40,000 pixels" in messages["too_many_pixels"]
    assert all(len(m) < 300 for m in messages.values())  # a sentence a Discord user reads, not a dump


def test_script_hidden_in_a_gif_is_a_polyglot() -> None:
    gif = encode(Image.new("P", (4, 4)), "GIF")
    assert reject(gif[:-1] + b"<script>alert(1)</script>;").reason == "polyglot"


def test_declared_size_is_checked_before_download() -> None:
    check_declared_size(1000, 2000)
    check_declared_size(None, 2000)
    with pytest.raises(ImageRejected) as big:
        check_declared_size(30 * 1024 * 1024, 25 * 1024 * 1024)
    assert big.value.reason == "too_large" and "30.0 MB" in big.value.message
    with pytest.raises(ImageRejected) as empty:
        check_declared_size(0, 2000)
    assert empty.value.reason == "empty"


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png_bomb(side: int) -> bytes:
    """A complete, valid 1-bit PNG of side × side zeros: ~110 KB on disk for 30,000², 900 MB decoded."""
    row = bytes(1 + (side + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row * 1000) for _ in range(side // 1000))
    body += packer.compress(row * (side % 1000)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


CHILD = """
import sys
from services.images.loading import ImageRejected, load_image
data = open(sys.argv[1], "rb").read()
try:
    load_image(data)
    print("LOADED")
except ImageRejected as exc:
    print(exc.reason)
status = open("/proc/self/status").read().splitlines()
print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""


def test_png_bomb_is_refused_without_allocating_it(tmp_path: Path) -> None:
    """Run in a fresh process so its peak RSS is the bomb's alone.

    VmHWM (KiB), not ru_maxrss: Linux carries ru_maxrss across exec, so a child would report the test
    runner's own peak.
    """
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(30_000))
    assert bomb.stat().st_size < 1_000_000
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(bomb)], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    reason, peak_kib = done.stdout.split()
    assert reason == "too_many_pixels"
    assert int(peak_kib) < 200 * 1024  # decoding it would need 900 MB
