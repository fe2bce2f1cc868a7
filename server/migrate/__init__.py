"""Moving data off the old platform: ``persistence-server migrate import | verify | export``.

Sources (a PostgreSQL-wire table such as CockroachDB's ``entities``, or JSON Lines
files) are read here; everything that writes or reads the ``documents`` table
goes through :mod:`server.store.bulk`. ``docs/cutover.md`` describes how the
three commands fit into the staged cutover.
"""
