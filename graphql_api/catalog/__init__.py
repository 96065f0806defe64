"""The catalog's GraphQL surface, one module per type family; ``graphql_api.schema`` composes their root types."""
