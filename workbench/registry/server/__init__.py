"""The team registry server (FastAPI; the ``server`` extra).

Import :func:`workbench.registry.server.app.create_app` to serve it. The rules live in
:class:`workbench.registry.server.service.RegistryService`, which needs no web
framework (the admin commands call it directly); its module docstring maps the
modules: ``*_routes.py``/``routes.py`` (HTTP), ``auth``, ``versions``, ``reviews``,
``labels``, ``resolve``, ``feed``, ``suites``, ``telemetry`` (the rules), and
``repository``/``suite_repository`` (all SQL).
"""
