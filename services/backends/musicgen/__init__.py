"""MusicGen (transformers): instrumentals from words, from a melody you hum or attach, and continued."""
