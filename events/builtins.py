"""The built-in event types every installation has."""

BUILTIN_TYPES = [
    ("registration", "Registration", False),
    ("first_deposit", "First deposit", True),
    ("deposit", "Deposit", True),
    ("game_activity", "Game activity", False),
    ("withdrawal", "Withdrawal", True),
    ("conversion", "Conversion", False),
    # Follow-up postbacks for reversed events (POST /api/v1/events/{id}/reverse/).
    ("reversal", "Reversal", False),
    # A player met a partner's qualification rule (partners.QualificationRule).
    ("qualified", "Qualified", False),
]


def event_types_seed(event_type_model) -> None:
    """Create or restore the built-in types; takes the model so migrations can pass their historical one."""
    for slug, name, requires_amount in BUILTIN_TYPES:
        event_type_model.objects.update_or_create(
            slug=slug, defaults={"name": name, "requires_amount": requires_amount, "is_builtin": True}
        )
