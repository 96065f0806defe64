"""The schema: one Query and one Mutation merged from each feature's root types, plus the safety limits."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import MaskErrors, MaxTokensLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from graphql_api.accounts_api import AccountsMutation, AccountsQuery
from graphql_api.apikeys_api import ApiKeysMutation, ApiKeysQuery
from graphql_api.catalog.policies import PoliciesMutation, PoliciesQuery
from graphql_api.catalog.products import ProductsMutation, ProductsQuery
from graphql_api.catalog.rate_cards import RateCardsMutation, RateCardsQuery
from graphql_api.catalog.resources import ResourcesMutation, ResourcesQuery
from graphql_api.catalog.units import UnitsMutation, UnitsQuery
from graphql_api.errors import DomainErrorCodes, LoggedSchema, UnparsedInputs, should_mask
from graphql_api.limits import DocumentLimits, Executor
from graphql_api.scalars import SCALARS
from graphql_api.setup_api import SetupMutation, SetupQuery
from graphql_api.summaries_api import SummariesMutation, SummariesQuery
from graphql_api.types.catalog import POLICY_TYPES
from graphql_api.uploads_api import UploadsMutation, UploadsQuery
from graphql_api.usage_api import UsageMutation, UsageQuery

#: Each feature contributes its root types here (one line per feature keeps merges trivial).
QUERIES: tuple[type, ...] = (
    ProductsQuery,
    ResourcesQuery,
    UnitsQuery,
    PoliciesQuery,
    RateCardsQuery,
    AccountsQuery,
    SetupQuery,
    SummariesQuery,
    UsageQuery,
    UploadsQuery,
    ApiKeysQuery,
)
MUTATIONS: tuple[type, ...] = (
    UnitsMutation,
    ResourcesMutation,
    ProductsMutation,
    PoliciesMutation,
    RateCardsMutation,
    AccountsMutation,
    SetupMutation,
    UsageMutation,
    SummariesMutation,
    UploadsMutation,
    ApiKeysMutation,
)

Query = merge_types("Query", QUERIES)
Mutation = merge_types("Mutation", MUTATIONS)


def build_schema() -> strawberry.Schema:
    extensions: list[Any] = [
        DocumentLimits,  # depth, aliases and expanded size, each fragment measured once; validation off the loop
        MaxTokensLimiter(max_token_count=20_000),
        UnparsedInputs,
        DomainErrorCodes,
        MaskErrors(should_mask_error=should_mask),
    ]
    return LoggedSchema(  # expected errors logged on one line, bugs with their traceback
        query=Query,
        mutation=Mutation,
        types=POLICY_TYPES,
        extensions=extensions,
        execution_context_class=Executor,
        config=StrawberryConfig(scalar_map=SCALARS),
    )


schema = build_schema()
