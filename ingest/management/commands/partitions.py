"""``manage.py partitions``: the monthly partitions, their sizes and what retention will do next."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat

from lib.partitioning import is_partitioned, partitions_ensure, partitions_list

from ...retention import retention_apply, retention_limits, retention_plan


class Command(BaseCommand):
    help = (
        "List the partitions of events, deliveries and attempts with their rows and sizes, and what retention "
        "will drop next and what holds it back. --create-ahead makes the partitions of the months ahead now; "
        "--apply carries out retention now instead of at its next scheduled run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--create-ahead", action="store_true", help="Make the partitions of the months ahead.")
        parser.add_argument("--apply", action="store_true", help="Carry out retention now.")

    def handle(self, *args, create_ahead=False, apply=False, **options):
        if not is_partitioned():
            raise CommandError(
                "The tables are not partitioned: partitions and retention by partition need PostgreSQL "
                "(DATABASE_URL=postgres://...) and its migrations applied (manage.py migrate)."
            )
        if create_ahead:
            made = partitions_ensure()
            self.stdout.write(f"Made {len(made)} partition(s){': ' + ', '.join(made) if made else ''}.")
        if apply:
            for step in retention_apply():
                archived = f", archived to {', '.join(step.archived)}" if step.archived else ""
                self.stdout.write(f"Done: {step.action} of {step.period}{archived}.")
        self._partitions()
        self._retention()

    def _partitions(self):
        self.stdout.write(f"{'partition':<44}{'period':<20}{'rows (est.)':>14}{'size':>12}")
        for item in partitions_list():
            rows = "-" if item.rows is None else f"{item.rows:,}"
            self.stdout.write(f"{item.name:<44}{item.period:<20}{rows:>14}{filesizeformat(item.bytes):>12}")

    def _retention(self):
        limits = retention_limits()
        self.stdout.write("")
        kept = ", ".join(
            f"{label} {'for ever' if not days else f'{days} days'}"
            for label, days in zip(("events", "deliveries", "attempts"), limits.values(), strict=True)
        )
        self.stdout.write(f"Retention: {kept}; archives: {settings.RETENTION_ARCHIVE_DIR or 'none (not archived)'}.")
        plan = retention_plan()
        if not plan:
            self.stdout.write("Next: nothing is old enough to go.")
        for step in plan:
            state = f"waits: {step.waits_for}" if step.waits_for else "goes at the next run"
            self.stdout.write(f"Next: {step.action} of {step.period} ({', '.join(p.name for p in step.partitions)}); "
                              f"{state}.")
