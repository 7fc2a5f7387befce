"""The registration's domain: steps, delivery methods and their waits, what members type, time.

Nothing here talks to Telegram, a database or Z-API: the service and the adapters use it.
"""
