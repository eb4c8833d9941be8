"""Cursor pagination for API lists: stable under inserts and no COUNT over big tables."""

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

MAX_PAGE_SIZE = 1000
PAGE_SIZE_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}
PAGE_SIZE_DESCRIPTION = f"Items per page, 1 to {MAX_PAGE_SIZE:,} (default 100)."


class NewestFirstCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    page_size_query_description = PAGE_SIZE_DESCRIPTION
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request):
        # DRF quietly falls back to the default (or the maximum) for a bad page size; it is a bad parameter.
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 4 and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError(
                {self.page_size_query_param: [f"{raw[:80]!r} is not a page size: send a whole number from 1 to "
                                              f"{self.max_page_size:,}."]}
            )
        return int(raw)

    def decode_cursor(self, request):
        # DRF answers a bad cursor with 404; it is a bad parameter, so 400 naming it. DRF takes any
        # position the cursor carries, and one that is not an id would reach the database.
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise self._not_a_cursor() from None
        if cursor is not None and not _is_id(cursor.position):
            raise self._not_a_cursor()
        return cursor

    def _not_a_cursor(self) -> ValidationError:
        return ValidationError(
            {self.cursor_query_param: ["Not a cursor from this API: follow the next or previous link as given."]}
        )

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = dict(PAGE_SIZE_SCHEMA)
        return parameters


def _is_id(position: str | None) -> bool:
    """A cursor's position is the id of the row it stops at (every list is ordered by id), or none."""
    return position is None or (position.isascii() and position.isdigit() and len(position) <= 18)
