"""Locust scenarios over the real protocol (websocket bidders and watchers, an HTTP officer,
sealed-tender suppliers), loaded by ``loadtests/locustfile.py``.

Gevent-only: nothing here imports asyncio or the server's modules (Locust monkey-patches
the process with gevent); messages are built from the pure ``contracts``/``engine``.
"""
