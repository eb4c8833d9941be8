import hashlib
from decimal import Decimal

import factory
from django.utils import timezone

from deliveries.models import Delivery
from events.models import Event, EventType, Player
from partners.models import Partner, PayoutRule, PostbackEndpoint


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"partner-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class PostbackEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PostbackEndpoint
        skip_postgeneration_save = True

    partner = factory.SubFactory(PartnerFactory)
    name = factory.Sequence(lambda n: f"endpoint {n}")
    url_template = "https://partner.example/postback?click={click_id}&event={event_type}"

    @factory.post_generation
    def event_types(self, create, extracted, **kwargs):
        if create:
            self.event_types.set(EventType.objects.filter(slug__in=extracted or EventType.BUILTIN))


class PayoutRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PayoutRule

    partner = factory.SubFactory(PartnerFactory)
    event_type_id = EventType.REGISTRATION
    kind = PayoutRule.Kind.FIXED
    value = Decimal("10.00")
    currency = "EUR"


class PlayerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Player

    player_id = factory.Sequence(lambda n: f"p-{n}")


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    event_id = factory.Sequence(lambda n: f"evt-{n}")
    type_id = EventType.REGISTRATION
    player = factory.SubFactory(PlayerFactory)
    occurred_at = factory.LazyFunction(timezone.now)
    content_hash = factory.LazyAttribute(lambda o: hashlib.sha256(o.event_id.encode()).hexdigest())


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    event = factory.SubFactory(EventFactory)
    endpoint = factory.SubFactory(PostbackEndpointFactory)
    partner = factory.LazyAttribute(lambda o: o.endpoint.partner)
    event_type_id = factory.LazyAttribute(lambda o: o.event.type_id)
