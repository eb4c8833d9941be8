from .models import ApiKey
from .services import api_key_digest


def api_key_get_active(*, plaintext: str) -> ApiKey | None:
    return ApiKey.objects.filter(digest=api_key_digest(plaintext), revoked_at__isnull=True).first()
