"""Benchmarks and Locust scenarios: ``gavel bench …`` figures and load against a real
server on 127.0.0.1. Every scenario is bounded in count and time and stops by itself.
"""
