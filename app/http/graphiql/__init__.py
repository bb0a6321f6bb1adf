"""GraphiQL, self-hosted: the page, its vendored assets and the examples it opens with."""
