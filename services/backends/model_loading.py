"""One lock for loading any torch model in this process, and one answer to "which device?".

transformers and diffusers build models under process-wide patches (empty "meta" weights, default
dtypes) while they load; two loads in two threads at once can see each other's patches and end up
with tensors on the wrong device. Loads are rare and short next to inference, so they take turns.
"""

from __future__ import annotations

import threading

MODEL_LOAD_LOCK = threading.RLock()


def resolve_device(preference: str) -> str:
    """The torch device to use: an explicit choice, else the best one present (cuda, mps, cpu)."""
    import torch

    if preference != "auto":
        return preference
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"
