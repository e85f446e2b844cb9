"""OCAIS — Open Clinical AI Science.

A self-hostable clinical case store and differential-diagnosis service. Importing this package
opens no files and loads no ontology: every stateful object is built explicitly.
"""

__version__ = "0.1.0"
