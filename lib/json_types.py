"""Fields that take the JSON type the schema gives them, and only that.

DRF is lenient: a ``CharField`` turns ``0`` into ``"0"``, a ``BooleanField``
reads ``0`` or ``"yes"``, an ``IntegerField`` reads ``"5"``, a
``DecimalField`` reads the float ``0.1``. The schema promises one type for
each, and a value of another type is a client's mistake (often a misplaced
field), so it is refused, naming the field, like any other bad value. Money
goes as a decimal string so that no float rounds it on the way.
"""

from collections.abc import Mapping

from rest_framework import serializers

# Checked in order: a DecimalField is not a CharField, but a SlugField or ChoiceField-like text field is.
_EXPECTED = (
    (serializers.BooleanField, lambda value: isinstance(value, bool), "Not a boolean: send true or false."),
    (serializers.IntegerField, lambda value: isinstance(value, int) and not isinstance(value, bool),
     "Not a whole number: send one without quotes, such as 5."),
    (serializers.DecimalField, lambda value: isinstance(value, str) and value.strip() != "",
     'Not a decimal string: send the number in quotes, such as "25.00" (or null for none, where allowed).'),
    (serializers.CharField, lambda value: isinstance(value, str), "Not a string: send text, in quotes."),
)


class JsonTypesMixin:
    """For a serializer: its writable boolean, integer, decimal and text fields refuse values of another JSON type."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            wrong = {
                name: [reason] for name, field in self.fields.items()
                if not field.read_only and data.get(name) is not None
                and (reason := _wrong_type(field, data[name])) is not None
            }
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)


def _wrong_type(field: serializers.Field, value) -> str | None:
    for field_class, accepts, reason in _EXPECTED:
        if isinstance(field, field_class):
            return None if accepts(value) else reason
    return None
