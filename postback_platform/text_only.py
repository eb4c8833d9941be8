"""Text fields that take text only.

DRF's ``CharField`` turns a JSON number into its digits, so ``"notes": 0``
is stored as ``"0"`` while the schema promises a string. A number where text
belongs is a client's mistake (often a misplaced field), so it is refused,
naming the field, like any other wrong type.
"""

from collections.abc import Mapping

from rest_framework import serializers

NOT_TEXT = "Not a string: send text, in quotes."


class TextOnlyMixin:
    """For a serializer: its writable ``CharField``s (slugs, choices of text and the like included) refuse non-strings."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            wrong = {
                name: [NOT_TEXT] for name, field in self.fields.items()
                if isinstance(field, serializers.CharField) and not field.read_only
                and data.get(name) is not None and not isinstance(data[name], str)
            }
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)
