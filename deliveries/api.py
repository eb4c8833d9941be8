"""The delivery status API: lists and details of deliveries with their attempts.

A ViewSet, so actions on one delivery (resend) sit beside the reads.
"""

from drf_spectacular.utils import extend_schema_view
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from postback_platform.viewsets import StatusViewSet

from . import api_docs
from .filter_params import delivery_filters
from .selectors import delivery_get, delivery_list
from .serializers import DeliveryDetailSerializer, DeliverySerializer


@extend_schema_view(list=api_docs.DELIVERY_LIST, retrieve=api_docs.DELIVERY_RETRIEVE)
class DeliveryViewSet(StatusViewSet):
    serializer_class = DeliverySerializer

    def list(self, request):
        page = self.paginate_queryset(delivery_list(**delivery_filters(request.query_params)))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    def retrieve(self, request, pk: str):
        delivery = delivery_get(pk=int(pk))
        if delivery is None:
            raise NotFound(f"No delivery with id {pk}. An event's deliveries are listed at /api/v1/events/{{id}}/.")
        return Response(DeliveryDetailSerializer(delivery).data)
