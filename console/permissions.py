class ReadOnlyAdminMixin:
    """An admin page that shows records only: nothing is added, changed or deleted through it."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
