"""GraphiQL, self-hosted: the page, its vendored assets and the example it opens with."""
