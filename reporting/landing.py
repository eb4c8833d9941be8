"""Where people land after logging in to the admin: marketing on the statistics, everyone else on the index."""

from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse

from accounts.roles import works_in_marketing_only


def admin_login(request, extra_context=None):
    response = admin.site.login(request, extra_context=extra_context)
    # A successful login redirects to "next", which is the index unless the user asked for a page.
    went_home = response.status_code == 302 and response.url == reverse("admin:index")
    if request.method == "POST" and went_home and works_in_marketing_only(request.user):
        return redirect("admin:reporting_statistics_changelist")
    return response
