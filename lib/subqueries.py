"""Query helpers shared by the console's selectors."""

from django.db.models import Count, IntegerField, QuerySet, Subquery
from django.db.models.functions import Coalesce


def count_subquery(queryset: QuerySet, *, outer_field: str) -> Coalesce:
    """An annotation counting ``queryset``'s rows for each outer row (0 when none).

    ``queryset`` is filtered on ``outer_field=OuterRef(...)``; grouping by that
    field turns the count into one correlated value instead of a join + GROUP BY
    over the outer query.
    """
    counted = queryset.order_by().values(outer_field).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)
