"""Reconciliation: what the payments service says was paid, against what the invoicing
service recorded (`python -m app reconcile`, and periodically in the app when
RECONCILE_INTERVAL_SECONDS > 0). drift.py compares, reader.py reads, runner.py runs one
pass (and the repair), report.py renders, periodic.py is the app's background task."""
