from django.core.management.base import BaseCommand

from partners.credential_migration import credential_candidates, endpoint_credentials_move
from partners.models import PostbackEndpoint


class Command(BaseCommand):
    help = (
        "Report query parameters and headers of postback endpoints that look like credentials (token, key, secret, "
        "pass, auth, signature …) and are written literally; with --move, move them into the endpoint's write-only "
        "credentials and rewrite the templates to {secret.NAME}. Values are never printed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--move", action="store_true", help="Move what is reported into credentials.")
        parser.add_argument("--endpoint", type=int, action="append", help="Only this endpoint id (repeatable).")

    def handle(self, *args, move: bool, endpoint: list[int] | None, **options):
        endpoints = PostbackEndpoint.objects.select_related("partner").order_by("pk")
        if endpoint:
            endpoints = endpoints.filter(pk__in=endpoint)
        found = 0
        for item in endpoints:
            candidates = credential_candidates(item)
            if not candidates:
                continue
            found += len(candidates)
            self.stdout.write(f"endpoint {item.pk} ({item}):")
            for candidate in candidates:
                self.stdout.write(f"  {candidate.where} {candidate.name!r} -> {candidate.macro}")
            if move:
                self._move(item)
        verb = "found" if not move else "found and handled"
        self.stdout.write(f"{found} credential-like value(s) {verb}." + ("" if move or not found else
                          " Run again with --move to move them into credentials."))

    def _move(self, endpoint: PostbackEndpoint) -> None:
        moved, errors = endpoint_credentials_move(endpoint=endpoint)
        if errors:
            reasons = "; ".join(f"{name}: {reason}" for name, reason in errors.items())
            self.stderr.write(f"  not moved: {reasons}")
        else:
            self.stdout.write(self.style.SUCCESS(f"  moved {len(moved)} into credentials"))
