"""The GraphQL layer: the schema's types and the rules on them (types/), thin resolvers
(resolvers/), the document limits (limits/), and the schema build and executor."""
