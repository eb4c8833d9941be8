from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    """A bearer key for the REST API.

    Only a SHA-256 digest of the key is stored. Keys are 256-bit random
    strings, so a fast digest is as safe as a slow password hash here and
    lets every request be authenticated with one indexed look-up.
    """

    class Role(models.TextChoices):
        PLATFORM = "platform", "Platform (ingest events, read status)"
        ADMIN = "admin", "Admin (everything)"

    name = models.CharField(max_length=100)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.PLATFORM)
    prefix = models.CharField(max_length=16, unique=True, help_text="First characters of the key, to tell keys apart.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN
