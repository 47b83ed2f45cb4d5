"""Simulated bidders: strategies (truthful, sniper, proxy, random) that drive auctions
through the same commands a browser sends, for demos, soak runs and the load tests.
"""
