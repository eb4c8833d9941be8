"""Cursor pagination for API lists: stable under inserts and no COUNT over big tables."""

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def decode_cursor(self, request):
        # DRF answers a bad cursor with 404; it is a bad parameter, so 400 naming it.
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError(
                {self.cursor_query_param: ["Not a cursor from this API: follow the next or previous link as given."]}
            ) from None
