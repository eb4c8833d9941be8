"""Role gates for the REST API: platform keys ingest and read, admin keys do everything."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from .models import ApiKey


def _role(request) -> str | None:
    api_key = getattr(request, "auth", None)
    return api_key.role if isinstance(api_key, ApiKey) else None


def is_admin_key(request) -> bool:
    """Whether an admin key made ``request``: for what a route shows, where both roles may call it."""
    return _role(request) == ApiKey.Role.ADMIN


class IsAdminKey(BasePermission):
    message = "This route needs an API key with the admin role."

    def has_permission(self, request, view) -> bool:
        return is_admin_key(request)


class IsPlatformOrAdminKey(BasePermission):
    message = "This route needs a platform or admin API key."

    def has_permission(self, request, view) -> bool:
        return _role(request) in (ApiKey.Role.PLATFORM, ApiKey.Role.ADMIN)


class ReadForPlatformWriteForAdmin(BasePermission):
    message = "Platform keys may only read here; changes need an admin key."

    def has_permission(self, request, view) -> bool:
        role = _role(request)
        if request.method in SAFE_METHODS:
            return role in (ApiKey.Role.PLATFORM, ApiKey.Role.ADMIN)
        return role == ApiKey.Role.ADMIN
