"""The base of the status API's ViewSets: platform or admin keys, numeric ids, cursor pages."""

from rest_framework import viewsets

from accounts.permissions import IsPlatformOrAdminKey

from .pagination import NewestFirstCursorPagination


class StatusViewSet(viewsets.GenericViewSet):
    permission_classes = [IsPlatformOrAdminKey]
    pagination_class = NewestFirstCursorPagination
    # Ids beyond a 64-bit integer are simply not found, not a database error.
    lookup_value_regex = "[0-9]{1,18}"
