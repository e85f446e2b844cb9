"""Settings of the web service (``OCAIS_SERVE_*``): defined in :mod:`ocais.config` as part of the
one settings object (``Settings.serve``), re-exported here where the service reads them."""

from ocais.config import ServeSettings, load_serve_settings

__all__ = ["ServeSettings", "load_serve_settings"]
