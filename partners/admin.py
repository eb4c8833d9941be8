from django.contrib import admin

from .models import Partner, PayoutRule, PostbackEndpoint


class PostbackEndpointInline(admin.StackedInline):
    model = PostbackEndpoint
    extra = 0
    fields = ["name", "url_template", "method", "event_types", "is_active"]
    show_change_link = True


class PayoutRuleInline(admin.TabularInline):
    model = PayoutRule
    extra = 0


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "scope", "is_active", "created_at"]
    list_filter = ["scope", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [PostbackEndpointInline, PayoutRuleInline]


@admin.register(PostbackEndpoint)
class PostbackEndpointAdmin(admin.ModelAdmin):
    list_display = ["name", "partner", "method", "is_active", "paused_at"]
    list_filter = ["method", "is_active"]
    list_select_related = ["partner"]
    search_fields = ["name", "partner__name", "partner__slug"]
    exclude = ["signing_secret", "previous_signing_secret", "previous_secret_expires_at"]
