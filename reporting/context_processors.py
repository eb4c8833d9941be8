"""What every admin page needs to know from reporting."""

from .export_jobs import exports_ready_to_announce


def exports_ready(request) -> dict:
    """The requester's background exports that finished since their last admin page, told once."""
    match = getattr(request, "resolver_match", None)
    user = getattr(request, "user", None)
    if match is None or match.namespace != "admin" or not (user and user.is_authenticated and user.is_staff):
        return {}
    return {"exports_ready": exports_ready_to_announce(user)}
