"""The GraphQL API (Strawberry on Starlette, behind Mangum in Lambda).

Cold start: the schema is built when ``graphql_api.schema`` is imported, so the modules that define Strawberry
types, inputs and resolvers do without ``from __future__ import annotations`` — Strawberry would otherwise
compile and evaluate every one of their annotations as a string. Names defined further down are quoted where
they are used; repositories, services and planners that only resolvers need are imported on first use (see
``graphql_api.context`` and ``graphql_api.setup_ops``).
"""
