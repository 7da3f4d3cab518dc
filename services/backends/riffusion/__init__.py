"""Riffusion: Stable Diffusion on spectrogram images.

Modules: params (the spectrogram convention), codec (audio ↔ image), pipeline (the diffusers model),
interpolate, seeds, batching, backend (the entry point), availability (cheap checks, no heavy imports).
Import submodules directly; this package imports nothing, so checking availability stays cheap.
"""
