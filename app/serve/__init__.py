"""How the gateway is served: what uvicorn itself must be told or given (guard.py)."""
