"""The public GraphQL types, the field rules applied to them (guards) and what they need
from the application (ports)."""
