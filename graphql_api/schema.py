"""The schema: one Query and one Mutation merged from each feature's root types, plus the safety limits."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from graphql_api.accounts_api import AccountsMutation, AccountsQuery
from graphql_api.catalog_api import CatalogMutation, CatalogQuery
from graphql_api.errors import DomainErrorCodes, UnparsedInputs, should_mask
from graphql_api.scalars import SCALARS
from graphql_api.setup_api import SetupMutation, SetupQuery
from graphql_api.summaries_api import SummariesQuery
from graphql_api.types.catalog import POLICY_TYPES
from graphql_api.usage_api import UsageMutation, UsageQuery
from infra.settings import get_settings

#: Each feature contributes its root types here (one line per feature keeps merges trivial).
QUERIES: tuple[type, ...] = (CatalogQuery, AccountsQuery, SetupQuery, SummariesQuery, UsageQuery)
MUTATIONS: tuple[type, ...] = (CatalogMutation, AccountsMutation, SetupMutation, UsageMutation)

Query = merge_types("Query", QUERIES)
Mutation = merge_types("Mutation", MUTATIONS)


def build_schema() -> strawberry.Schema:
    settings = get_settings()
    extensions: list[Any] = [
        QueryDepthLimiter(max_depth=settings.max_query_depth),
        MaxAliasesLimiter(max_alias_count=settings.max_aliases),
        MaxTokensLimiter(max_token_count=20_000),
        UnparsedInputs,
        DomainErrorCodes,
        MaskErrors(should_mask_error=should_mask),
    ]
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=POLICY_TYPES,
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALARS),
    )


schema = build_schema()
