"""Field permissions by role; a refusal is a GraphQL error with ``extensions.code = "FORBIDDEN"``."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from core.auth import Action
from core.errors import ErrorCode


class _Requires(BasePermission):
    action: Action
    message = "your API key's roles do not allow this operation"
    error_extensions = {"code": ErrorCode.FORBIDDEN}

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        principal = info.context.principal
        return principal is not None and principal.may(self.action)


class CanRead(_Requires):
    action = Action.READ


class CanRecordUsage(_Requires):
    action = Action.RECORD_USAGE


class CanConfigure(_Requires):
    action = Action.CONFIGURE


class CanManageKeys(_Requires):
    action = Action.MANAGE_KEYS


def refused(info: Any) -> bool:
    """Whether the caller's roles refuse the field being resolved (judged before any of its inputs is)."""
    definition = info.parent_type.fields[info.field_name].extensions.get("strawberry-definition")
    principal = info.context.principal
    return any(issubclass(permission, _Requires) and not (principal is not None and principal.may(permission.action))
               for permission in getattr(definition, "permission_classes", None) or ())
