"""Wire and data contracts shared by the server, the browser page, the simulator and the
load tests: versioned message types, their JSON Schemas and the canonical forms that are
stored, hashed and signed. Pure data definitions: no I/O.
"""
