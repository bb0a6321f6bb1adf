"""Sandbox copies of the invoicing and payments services, for local use, demos and tests.

They implement the OpenAPI contracts in contracts/ exactly, on top of SQLite, and add
a token-protected `/_sandbox/` admin surface for fault injection and call inspection.
"""
