"""``config``: the one settings object (``Settings``, ``get_settings``) and the project's paths.

Environment variables override the embedded defaults; nothing here opens a connection.
May import: ``core``.
"""
