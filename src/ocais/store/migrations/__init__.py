"""Alembic environment of the case store, shipped inside the package.

Run it through :meth:`ocais.store.Repository.open` (``migrate=True``) or
:func:`ocais.store.migrate.upgrade`; new revisions go in ``versions/``.
"""
