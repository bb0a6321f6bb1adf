"""How the parts are put together for the composition root (app/main.py): the resources
the app holds open, its background work, and each request's context."""
