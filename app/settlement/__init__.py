"""Money that settles later: pending payments the gateway took, watched until they
settle, and what the gateway does then (record, release or refund)."""
