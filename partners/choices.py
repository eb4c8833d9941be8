"""The choices of an endpoint's fields, readable without the model (validation and signing use them)."""

from django.db import models


class Method(models.TextChoices):
    GET = "GET", "GET"
    POST = "POST", "POST"


class BodyFormat(models.TextChoices):
    JSON = "json", "JSON"
    FORM = "form", "Form (application/x-www-form-urlencoded)"


class AuthType(models.TextChoices):
    NONE = "none", "None"
    BASIC = "basic", "HTTP Basic (credentials username, password)"
    BEARER = "bearer", "Bearer token (credential token)"
    OAUTH2_CLIENT = "oauth2_client_credentials", "OAuth2 client credentials (client_id, client_secret)"
    OAUTH2_PASSWORD = "oauth2_password", "OAuth2 password grant (client_id, username, password)"
