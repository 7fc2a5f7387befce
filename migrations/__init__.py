"""Alembic migrations.

HEAD names the newest revision so that the bot can see, without loading Alembic, that the database
is already up to date (tests/test_storage.py checks it against Alembic's own head).
"""

HEAD = "0011"
