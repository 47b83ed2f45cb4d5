"""The HTTP face: the Sanic app, one blueprint per resource, problems, idempotency, OpenAPI."""
