"""The base every SQLite store stands on: one way to open, close and migrate (see base.py, migrations.py)."""
