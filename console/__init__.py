"""The Django admin as the managers' operations console: the pages of every app, above the apps they show."""
