"""Domain events: what happened, written with the change that caused it, published to
RabbitMQ and streamed to subscribers."""
