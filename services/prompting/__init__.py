"""Reading prompts, shared by every backend that honours them: what a user stated outright (`constraints`),
and what the words mean (`interpreter`: tags by keyword and meaning, sentiment, a StyleSpec)."""

from services.prompting.constraints import ExplicitConstraints, NamedInstrument, parse_explicit

__all__ = ["ExplicitConstraints", "NamedInstrument", "parse_explicit"]
