"""The params an event is seen with: its own, over the tracking params its player was attributed with.

Templates and endpoint filters read this one merged view, so a deposit's
postback carries the ``sub1`` its registration brought, and a filter on
``params.sub1`` sees the same value the postback sends.
"""

from collections.abc import Mapping


def params_merged(*, params: Mapping | None, tracking_params: Mapping | None) -> dict:
    """``tracking_params`` with ``params`` over them: the event's own value wins, even an empty one."""
    return {**(tracking_params or {}), **(params or {})}


def params_inherited(*, params: Mapping | None, tracking_params: Mapping | None) -> dict:
    """The tracking params the event does not carry itself: what it takes from its player."""
    own = params or {}
    return {name: value for name, value in (tracking_params or {}).items() if name not in own}
