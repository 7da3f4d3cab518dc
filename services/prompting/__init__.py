"""Reading prompts: what a user stated outright, shared by every backend that honours it."""

from services.prompting.constraints import ExplicitConstraints, NamedInstrument, parse_explicit

__all__ = ["ExplicitConstraints", "NamedInstrument", "parse_explicit"]
