"""What a rendered piece sounds like: tempo, key, length, loudness, drums, pitch set — measured, not asked."""
