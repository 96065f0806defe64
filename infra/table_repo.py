"""What every repository of one tenant on one table shares: the client and the table name, resolved lazily."""

from __future__ import annotations

from typing import Any, ClassVar

from infra.dynamo import dynamodb_client
from infra.settings import get_settings


class TableRepository:
    #: the Settings attribute that names this repository's table (e.g. ``"usage_table"``)
    table_setting: ClassVar[str]

    def __init__(self, tenant: str, client: Any | None = None, table: str | None = None):
        self.tenant = tenant
        self._client = client
        self._table = table

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = dynamodb_client()
        return self._client

    @property
    def table(self) -> str:
        return self._table or str(getattr(get_settings(), self.table_setting))
