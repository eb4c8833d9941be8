from django.db import models
from django.utils import timezone


class Statistics(models.Model):
    """The admin's statistics page.

    There is no table: the page reads the daily roll-up below. The model
    exists so the page gets its place on the admin index and a ``view``
    permission that can be granted to marketing staff without giving them
    the event or delivery tables.
    """

    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name = "statistics"
        verbose_name_plural = "statistics"


class DailyCounts(models.Model):
    """The additive counts of one reporting day × partner × event type (the statistics' roll-up).

    Events count under the event's partner (null = unattributed) and type;
    deliveries under the receiving partner and the type its endpoint gets, on
    the day the event occurred. ``reporting.rollup`` keeps these rows.
    """

    day = models.DateField()
    partner = models.ForeignKey("partners.Partner", null=True, on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=64)
    events = models.PositiveIntegerField(default=0)
    registrations = models.PositiveIntegerField(default=0)
    first_deposits = models.PositiveIntegerField(default=0)
    # Players meeting a partner's qualification rule (derived ``qualified`` events): the funnel's last step.
    qualified = models.PositiveIntegerField(default=0)
    deliveries_delivered = models.PositiveIntegerField(default=0)
    deliveries_failed = models.PositiveIntegerField(default=0)
    deliveries_pending = models.PositiveIntegerField(default=0)

    class Meta:
        # Every statistics read is a day range, and a refresh replaces whole days.
        indexes = [models.Index(fields=["day", "partner"], name="daily_counts_day_partner")]


class DailyMoney(models.Model):
    """Deposit and payout sums of one day × partner × event type × event currency × payout currency."""

    day = models.DateField()
    partner = models.ForeignKey("partners.Partner", null=True, on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=64)
    currency = models.CharField(max_length=3, blank=True)
    payout_currency = models.CharField(max_length=3, blank=True)
    deposit_sum = models.DecimalField(max_digits=30, decimal_places=4, null=True)
    payout_sum = models.DecimalField(max_digits=30, decimal_places=4, null=True)

    class Meta:
        indexes = [models.Index(fields=["day", "partner"], name="daily_money_day_partner")]


class DailyPlayers(models.Model):
    """Distinct players of ``span`` days from ``day`` in one grouping set of {partner, event type}.

    ``by_partner`` and ``by_type`` say which of the two the row is grouped by
    (a null partner in a row grouped by partner is the unattributed events).
    A row of one day has the exact count in ``players``. Longer spans are
    blocks of 2, 4, … 512 days aligned on the day's ordinal, so any range is
    a few blocks (a 120-day range at most 12): their ``sketch``
    (``reporting.sketch``) merges into the range's count.
    """

    day = models.DateField()
    span = models.PositiveSmallIntegerField(default=1)
    by_partner = models.BooleanField()
    by_type = models.BooleanField()
    partner = models.ForeignKey("partners.Partner", null=True, on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=64, blank=True)
    players = models.PositiveIntegerField()
    sketch = models.BinaryField()

    class Meta:
        indexes = [models.Index(fields=["by_partner", "by_type", "span", "day"], name="daily_players_set_span_day")]


class RollupState(models.Model):
    """Where the roll-up's refresher stopped: one row, absent before the first run."""

    time_zone = models.CharField(max_length=64)
    events_seen = models.BigIntegerField(help_text="Events with a higher id may be new to the roll-up.")
    deliveries_seen = models.BigIntegerField(help_text="Deliveries with a higher id may be new to the roll-up.")
    attempts_checked_at = models.DateTimeField(help_text="Attempts started since (less a lease) may have changed a status.")
    as_of = models.DateTimeField(
        null=True, help_text="Every change committed before this time is in the roll-up; null while it is being built."
    )


class FinalDays(models.Model):
    """Reporting days before ``before`` are final: retention dropped rows they were counted from.

    One row, absent until retention first drops a month. The roll-up keeps
    these days' rows as they are: aggregating them again would count only
    what is left.
    """

    before = models.DateField()

    class Meta:
        verbose_name_plural = "final days"

    def __str__(self) -> str:
        return f"reporting days before {self.before} are final"


class StaleDay(models.Model):
    """A reporting day whose roll-up rows must be aggregated again."""

    day = models.DateField(primary_key=True)
    # Oldest mark first: a day that is marked on every run (today, while events
    # arrive) does not keep a backlog of older days waiting.
    marked_at = models.DateTimeField(default=timezone.now)


class ExportJob(models.Model):
    """A CSV export too long to stream while the manager waits: written by a worker, downloaded when ready.

    ``query_string`` is the list's filters and search as the requester saw them; the worker opens that
    list again as the requester (``reporting.export_jobs``), so the file holds exactly those rows, and
    only what that person may see.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    requested_by = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=64, help_text="app_label.model_name of the exported list.")
    query_string = models.TextField(blank=True)
    file_name = models.CharField(max_length=200, help_text="The name the download gets: the list, its filters, the date.")
    bom = models.BooleanField(default=False, help_text="Starts with a byte-order mark, for Excel.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveBigIntegerField(null=True, blank=True)
    rows_done = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    notified = models.BooleanField(default=False, help_text="The requester has been told it is ready.")
    created_at = models.DateTimeField(default=timezone.now)
    # Moved on whenever the worker writing the file records progress: a running job whose time stands still
    # lost its worker, and another may take it over.
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Moved on each time a worker takes the job: the file is the attempt's own, and a worker's updates count
    # only while the job still has its attempt (a worker taken over as stalled may still be alive).
    attempt = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["requested_by", "notified"], name="export_job_to_notify")]
        verbose_name = "export"
        verbose_name_plural = "exports"

    def __str__(self) -> str:
        return self.file_name

    @property
    def percent_done(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_done * 100 // self.rows_total)
