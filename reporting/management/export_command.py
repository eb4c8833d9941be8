"""What ``export_events`` and ``export_deliveries`` share: filters, output, progress."""

from collections.abc import Callable, Sequence
from contextlib import nullcontext

from django.core.management.base import BaseCommand, CommandError
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError

from reporting.exports import Column, table_chunks
from reporting.progress import ProgressBar


class TableExportCommand(BaseCommand):
    """Write the same CSV as the API export to a file or stdout, with progress on stderr.

    Subclasses name their filters (the query parameters of the API export,
    given here as ``--name``), the columns and how to find the rows.
    """

    filters: Sequence[tuple[str, str]]  # (query parameter, help)
    columns: Sequence[Column]
    matching: Callable[[dict], QuerySet]

    def add_arguments(self, parser):
        for name, help_text in self.filters:
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name, help=help_text)
        parser.add_argument("-o", "--output", default="-", help="File to write; '-' (the default) is stdout.")
        parser.add_argument("--bom", action="store_true", help="Start with a UTF-8 byte-order mark (Excel).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar on stderr.")

    def handle(self, *args, output, bom, no_progress, **options):
        params = {name: options[name] for name, _ in self.filters if options.get(name) is not None}
        try:
            rows = self.matching(params)
        except ValidationError as error:
            raise CommandError(_describe(error.detail)) from None
        bar = None if no_progress else ProgressBar(total=rows.count(), write=self._progress)
        with _opened(output, self.stdout) as out:
            for chunk in table_chunks(rows, self.columns, bom=bom, progress=bar and bar.advance):
                out.write(chunk)
        if bar:
            bar.finish()

    def _progress(self, text: str) -> None:
        self.stderr.write(text, style_func=str, ending="")


def _opened(output: str, stdout):
    if output == "-":
        return nullcontext(_Unterminated(stdout))
    try:
        # newline="": the csv module writes its own \r\n line ends.
        return open(output, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed by the caller's with
    except OSError as error:
        raise CommandError(f"--output: cannot write {output!r}: {error.strerror}.") from None


class _Unterminated:
    """Django's stdout wrapper adds a newline per write unless told not to."""

    def __init__(self, stdout):
        self.stdout = stdout

    def write(self, text: str) -> None:
        self.stdout.write(text, ending="")


def _describe(detail: dict) -> str:
    return " ".join(f"--{name.replace('_', '-')}: {' '.join(map(str, messages))}" for name, messages in detail.items())
