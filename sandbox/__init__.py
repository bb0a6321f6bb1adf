"""Sandbox copies of the invoicing and payments services, for local use, demos and tests.

They implement the OpenAPI contracts in contracts/ exactly, on top of SQLite, and add
a token-protected `/_sandbox/` admin surface (switchable: `admin=`, `--no-admin`) for
fault injection, call inspection, resets, variants (the other implementation choices
the contracts allow, sandbox/common/variants.py) and settling pending payments.
"""
