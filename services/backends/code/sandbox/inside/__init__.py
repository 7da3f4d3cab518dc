"""Code that runs inside the sandbox, before and around the untrusted module. Standard library only."""
