"""A changelist paginator that never counts a whole table.

``COUNT(*)`` over millions of deliveries takes seconds on PostgreSQL, and
the admin asks for it on every changelist page. This paginator counts at
most ``cap + 1`` rows (``SELECT COUNT(*) FROM (SELECT id ... LIMIT n)``),
which an index answers in milliseconds; past the cap the page says "more
than" and managers narrow the list with filters instead of paging deeper.
"""

from django.core.paginator import Paginator
from django.utils.functional import cached_property


class CappedCountPaginator(Paginator):
    cap = 10_000

    @cached_property
    def count(self) -> int:
        rows = self.object_list.order_by().values("pk")[: self.cap + 1]
        return rows.count()

    @property
    def is_capped(self) -> bool:
        return self.count > self.cap


class HugeTableAdminMixin:
    """Changelist settings for tables that grow by millions of rows."""

    paginator = CappedCountPaginator
    # Without this the admin runs a second, unfiltered COUNT(*) for "N total".
    show_full_result_count = False
    list_per_page = 50
