"""A production-like cluster on one machine (`make cluster`): HAProxy in front of several
gateway processes on PostgreSQL, Redis and RabbitMQ, with the sandbox services behind
them. Development tooling like sandbox/ and bench/: never in the wheel or the image."""
