"""The admin roles and what each may do.

Groups are kept in step with this table by a data migration and again after
every ``migrate`` (new models get their permissions as soon as they exist).
API keys stay with superusers: neither role may see or create them.
"""

from django.db.models.signals import post_migrate

AFFILIATE_MANAGERS = "Affiliate managers"
MARKETING = "Marketing"

_ALL = ("add", "change", "delete", "view")

ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    AFFILIATE_MANAGERS: {
        "partners.partner": _ALL,
        "partners.postbackendpoint": _ALL,
        "partners.payoutrule": _ALL,
        "partners.qualificationrule": _ALL,
        "partners.qualification": ("view",),
        "events.eventtype": ("add", "change", "view"),
        "events.event": ("view",),
        "events.player": ("view",),
        # Resend and cancel are changes of a delivery's state.
        "deliveries.delivery": ("change", "view"),
        "deliveries.deliveryattempt": ("view",),
        "reporting.statistics": ("view",),
        "monitoring.alert": ("view",),
    },
    MARKETING: {
        "partners.partner": ("view",),
        "partners.postbackendpoint": ("view",),
        "partners.payoutrule": ("view",),
        "partners.qualificationrule": ("view",),
        "partners.qualification": ("view",),
        "events.eventtype": ("view",),
        "events.event": ("view",),
        "events.player": ("view",),
        "deliveries.delivery": ("view",),
        "deliveries.deliveryattempt": ("view",),
        # The statistics page: marketing's reason to use the admin at all.
        "reporting.statistics": ("view",),
        "monitoring.alert": ("view",),
    },
}


def roles_sync(*, group_model, permission_model) -> None:
    """Create the role groups and give each exactly the permissions of the table."""
    for role, grants in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = []
        for model_label, actions in grants.items():
            app_label, model = model_label.split(".")
            codenames = [f"{action}_{model}" for action in actions]
            wanted += permission_model.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        group.permissions.set(wanted)


def _sync_after_migrate(sender, using, apps=None, **kwargs):
    if apps is None:
        return
    try:
        group_model = apps.get_model("auth", "Group")
        permission_model = apps.get_model("auth", "Permission")
    except LookupError:
        return
    roles_sync(group_model=group_model, permission_model=permission_model)


def connect_signals() -> None:
    post_migrate.connect(_sync_after_migrate, dispatch_uid="accounts.roles.sync")


def works_in_marketing_only(user) -> bool:
    """A Marketing member with no other role: statistics are their home page."""
    if user.is_superuser:
        return False
    names = set(user.groups.values_list("name", flat=True))
    return MARKETING in names and names.isdisjoint(set(ROLE_PERMISSIONS) - {MARKETING})
