from django.core.exceptions import PermissionDenied
from django.urls import path


class ReadOnlyAdminMixin:
    """An admin page that shows records only: nothing is added, changed or deleted through it."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PageAdminMixin(ReadOnlyAdminMixin):
    """An admin page with no rows behind it (a model without a table): only its list page exists.

    The page itself is ``page_view``; it is served to users with the model's
    ``view`` permission.
    """

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [path("", self.admin_site.admin_view(self.changelist_view), name="%s_%s_changelist" % info)]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return self.page_view(request)

    def page_view(self, request):
        raise NotImplementedError
