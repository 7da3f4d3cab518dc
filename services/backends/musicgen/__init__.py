"""MusicGen (transformers): text and melody to music. Only its record exists so far."""
