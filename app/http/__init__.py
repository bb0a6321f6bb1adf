"""The HTTP edge: the /graphql endpoint, admission (rate limits, persisted queries),
transport protections, health, the metrics endpoint, request ids and GraphiQL."""
