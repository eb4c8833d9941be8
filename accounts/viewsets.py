"""The base of the status API's ViewSets: platform or admin keys, numeric ids, cursor pages."""

from rest_framework import viewsets

from lib.pagination import NewestFirstCursorPagination

from .permissions import IsPlatformOrAdminKey


class StatusViewSet(viewsets.GenericViewSet):
    permission_classes = [IsPlatformOrAdminKey]
    pagination_class = NewestFirstCursorPagination
    # Ids beyond a 64-bit integer are simply not found, not a database error.
    lookup_value_regex = "[0-9]{1,18}"
