"""Why a user's audio file can't be used, in words, and the checks every decoder shares.

Every decode failure of user media is an AudioDecodeError: a UserError whose message is a sentence for
the person who sent the file ("That WAV file says it has 0 channels…"), never a decoder's own text.
"""

from __future__ import annotations

from services.errors import InvalidInput

MIN_SAMPLE_RATE = 2_000  # below this nothing musical survives; such headers are damaged
MAX_SAMPLE_RATE = 384_000  # the highest rate audio gear records; resampling cost grows with the rate
MAX_CHANNELS = 64  # more than any real recording (WAV's own speaker layouts stop at 18)


class AudioDecodeError(InvalidInput):
    """The bytes are not usable audio; `message` says why, for the person who sent them."""


def check_layout(label: str, channels: int, sample_rate: int) -> None:
    """Refuse channel counts and sample rates no real recording has, naming what the file claims."""
    if channels <= 0:
        raise AudioDecodeError(
            f"That {label} file says it has {channels} channels, so there is no sound in it to use."
        )
    if channels > MAX_CHANNELS:
        raise AudioDecodeError(
            f"That {label} file says it has {channels:,} channels, which no real recording has — "
            "it is probably damaged."
        )
    if sample_rate <= 0:
        raise AudioDecodeError(
            f"That {label} file says its sample rate is {sample_rate} Hz, so there is no sound in it to use."
        )
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioDecodeError(
            f"That {label} file says its sample rate is {sample_rate:,} Hz; I can use "
            f"{MIN_SAMPLE_RATE:,} to {MAX_SAMPLE_RATE:,} Hz, so it is probably damaged."
        )
