from django.core.management.base import BaseCommand

from accounts.models import ApiKey
from accounts.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key and print it on the last line. It is shown only this once."

    def add_arguments(self, parser):
        parser.add_argument("name", help="What the key is for, e.g. 'casino-prod'.")
        parser.add_argument("--role", choices=ApiKey.Role.values, default=ApiKey.Role.PLATFORM)

    def handle(self, *args, name, role, **options):
        issued = api_key_create(name=name, role=role)
        self.stdout.write(
            f"Created {role} key '{name}' (prefix {issued.api_key.prefix}). Store it now; it cannot be shown again."
        )
        self.stdout.write(issued.plaintext)
