"""The ``ocais`` command line (typer): thin shells over library calls."""
