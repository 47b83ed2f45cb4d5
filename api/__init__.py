"""Sanic HTTP and websocket adapters, storage and the CLI: the I/O edge around engine/."""
