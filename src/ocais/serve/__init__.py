"""The web service: ``create_app(settings)`` — REST API v1, auth, audit log, the page.

Importing this package builds nothing: the app and everything it serves are made by
:func:`ocais.serve.app.create_app`.
"""

from ocais.serve.app import app_from_env, create_app
from ocais.serve.settings import ServeSettings, load_serve_settings

__all__ = ["ServeSettings", "app_from_env", "create_app", "load_serve_settings"]
