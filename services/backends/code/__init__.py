"""The code backend: a language model writes sound code that runs in a sandbox (issue #7)."""
