"""Running untrusted sound code: isolation detection and the runner (host), `inside/` (in the sandbox)."""
