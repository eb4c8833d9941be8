"""The admin is the managers' operations console; its pages for every app live in this package.

Django's admin discovery imports this module; importing the modules below
registers their models' pages. They sit above the apps they show (the event
page lists its deliveries, the delivery list exports through reporting), so
no app imports its own admin.
"""

from . import accounts, deliveries, events, monitoring, partners, reporting, storage  # noqa: F401
