"""Usage uploads in the usage table (key: infra/keys.py ``upload_pk``; infra/README.md "Usage uploads").

The API creates an upload PENDING; the ingest function marks it PROCESSING when it starts on the object and
COMPLETE / FAILED with the totals and the report's key when it is done. The ingest function's updates are
conditioned on the upload existing, so an object that no upload announced (a file dropped into the bucket
directly, or under a made-up id) never creates one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from core.uploads import UploadStatus, UsageUpload
from infra.dynamo import dynamodb_client
from infra.dynamo_kit import expression_values, from_attributes, key, to_attribute, to_attributes
from infra.keys import UPLOAD_SK, upload_pk
from infra.settings import Settings, get_settings

_COUNTS = ("rows", "accepted", "duplicates", "rejected")


def _key(tenant: str, upload_id: str) -> dict[str, Any]:
    return key(upload_pk(tenant, upload_id), UPLOAD_SK)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class UploadsRepository:
    def __init__(self, tenant: str, client: Any | None = None, settings: Settings | None = None):
        self.tenant = tenant
        self.settings = settings or get_settings()
        self.client = client or dynamodb_client(self.settings)

    def create(self, upload: UsageUpload) -> None:
        item = to_attributes({"pk": upload_pk(self.tenant, upload.id), "sk": UPLOAD_SK, "kind": "UPLOAD",
                              "upload_id": upload.id, "file_name": upload.file_name,
                              "content_type": upload.content_type, "status": upload.status.value,
                              "created_at": _stamp(upload.created_at), "expires_at": _stamp(upload.expires_at)})
        self.client.put_item(TableName=self.settings.usage_table, Item=item,
                             ConditionExpression="attribute_not_exists(pk)")

    def get(self, upload_id: str) -> UsageUpload | None:
        found = self.client.get_item(TableName=self.settings.usage_table, Key=_key(self.tenant, upload_id),
                                     ConsistentRead=True).get("Item")
        item = from_attributes(found or {})
        if item.get("kind") != "UPLOAD":
            return None
        text = {name: value for name, value in item.items() if isinstance(value, str)}
        counts = {name: int(item[name]) for name in _COUNTS if name in item}
        return UsageUpload(
            tenant=self.tenant, id=text["upload_id"], file_name=text["file_name"],
            content_type=text["content_type"], status=UploadStatus(text["status"]),
            created_at=datetime.fromisoformat(text["created_at"]),
            expires_at=datetime.fromisoformat(text["expires_at"]),
            report_key=text.get("report_key"), error=text.get("error"),
            finished_at=datetime.fromisoformat(text["finished_at"]) if "finished_at" in text else None, **counts)

    def started(self, upload_id: str) -> bool:
        """PROCESSING (again, for a new version of the file); False when no such upload exists."""
        return self._update(upload_id, "SET #status = :status REMOVE finished_at, #error",
                            expression_values(status=UploadStatus.PROCESSING.value))

    def finished(self, upload_id: str, status: UploadStatus, report_key: str, totals: dict[str, int],
                 error: str | None = None, now: datetime | None = None) -> bool:
        """COMPLETE or FAILED with the totals and the report's key; False when no such upload exists."""
        values = expression_values(status=status.value, report=report_key, at=_stamp(now or datetime.now(UTC)))
        sets = ["#status = :status", "report_key = :report", "finished_at = :at"]
        for name in _COUNTS:
            values[f":{name}"] = to_attribute(int(totals.get(name, 0)))
            sets.append(f"#{name} = :{name}")  # `rows` is a reserved word
        if error:
            values[":error"] = to_attribute(error)
            sets.append("#error = :error")
        expression = "SET " + ", ".join(sets) + ("" if error else " REMOVE #error")
        return self._update(upload_id, expression, values, {f"#{name}": name for name in _COUNTS})

    def _update(self, upload_id: str, expression: str, values: dict[str, Any],
                names: dict[str, str] | None = None) -> bool:
        try:
            self.client.update_item(TableName=self.settings.usage_table, Key=_key(self.tenant, upload_id),
                                    UpdateExpression=expression,
                                    ExpressionAttributeValues={**values, **expression_values(kind="UPLOAD")},
                                    ExpressionAttributeNames={"#status": "status", "#error": "error", **(names or {})},
                                    ConditionExpression="attribute_exists(pk) AND kind = :kind")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
