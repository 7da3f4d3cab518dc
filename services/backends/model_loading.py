"""One lock for loading any torch model in this process.

transformers and diffusers build models under process-wide patches (empty "meta" weights, default
dtypes) while they load; two loads in two threads at once can see each other's patches and end up
with tensors on the wrong device. Loads are rare and short next to inference, so they take turns.
"""

from __future__ import annotations

import threading

MODEL_LOAD_LOCK = threading.RLock()
