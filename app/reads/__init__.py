"""The read side: every object the schema shows is read here, batched per request
(loaders), and admitted by the ownership enforcer (ownership.py)."""
