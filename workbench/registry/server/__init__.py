"""The team registry server (FastAPI; the ``server`` extra).

Import :func:`workbench.registry.server.app.create_app` to serve it; the admin
functions in :mod:`workbench.registry.server.service` need no web framework.
"""
