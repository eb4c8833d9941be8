import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from reporting.models import StaleDay
from reporting.rollup import stats_days_mark, stats_rollup_refresh
from reporting.selectors import reporting_today

BUDGET_SECONDS = 60


class Command(BaseCommand):
    help = (
        "Bring the statistics' daily roll-up up to date now: the days touched since the last refresh, "
        "or the last N days (--days), or every day (--all). Waits for a running refresh to finish."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--all", action="store_true", help="Forget the roll-up and build every day again.")
        group.add_argument("--days", type=int, metavar="N", help="Aggregate the last N days again (today included).")

    def handle(self, *args, **options):
        if options["days"] is not None:
            if options["days"] < 1:
                raise CommandError("--days must be at least 1.")
            today = reporting_today()
            stats_days_mark(days=(today - dt.timedelta(days=n) for n in range(options["days"])))
        rebuild, total = options["all"], 0
        while True:
            done = stats_rollup_refresh(budget_seconds=BUDGET_SECONDS, wait=True, rebuild=rebuild,
                                        progress=self._progress)
            rebuild, total = False, total + done
            if not StaleDay.objects.exists():
                break
        self.stdout.write(f"Statistics roll-up up to date: {total} day(s) aggregated.")

    def _progress(self, day: dt.date, done: int) -> None:
        left = StaleDay.objects.count()
        self.stderr.write(f"{day}  ({done} done, {left} left)")
