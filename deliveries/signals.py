"""Signals deliveries sends to the apps above it; ``reporting.signals`` and ``monitoring.signals`` listen."""

from django.dispatch import Signal

# Sent with ``deliveries`` (a queryset) inside the transaction of a change to their outcome made outside the
# sender (a resend, a cancel), before the change: the days those deliveries count on must be counted again.
outcomes_rewriting = Signal()
# Sent once the change commits, with ``endpoint_id`` and ``now``: an endpoint's circuit opened (with ``last_error``)
# or closed (with ``held``, how many deliveries it held).
circuit_opened = Signal()
circuit_closed = Signal()
# Sent by the sender once its outcomes have committed, with ``postbacks`` (``records.Postback``, each with its
# attempt's result and its delivery's outcome), and with ``count`` when it closes attempts a dead sender left in
# flight (inside that transaction).
attempts_recorded = Signal()
attempts_lost = Signal()
