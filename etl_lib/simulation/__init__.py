"""``simulation``: the source's synthetic data. The seeded generator, the documented faults it
injects, and seeding the source database (COPY, idempotent).

May import: ``core``, ``storage``.
"""
