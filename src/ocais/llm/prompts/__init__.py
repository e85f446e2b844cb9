"""Versioned prompt templates, one file per prompt and version (``rerank.v1.txt``).

A file has a ``[system]`` and a ``[user]`` section with ``$placeholders``
(:class:`string.Template`: braces in case text are never interpreted). A changed prompt is a
new file (``rerank.v2.txt``): the version used is recorded with every answer it produced.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ocais.errors import ConfigError
from ocais.llm.base import ChatMessage


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    system: str
    user: str

    @property
    def id(self) -> str:
        return f"{self.name}.{self.version}"

    def messages(self, **values: object) -> list[ChatMessage]:
        """The chat messages with ``values`` filled in; a missing value is an error."""
        text = {k: str(v) for k, v in values.items()}
        try:
            user = string.Template(self.user).substitute(text)
        except KeyError as exc:
            raise ConfigError(f"prompt {self.id} needs a value for {exc.args[0]!r}") from exc
        return [ChatMessage("system", self.system), ChatMessage("user", user)]


@cache
def load_prompt(name: str, version: str = "v1") -> Prompt:
    """The packaged prompt ``name`` at ``version``."""
    filename = f"{name}.{version}.txt"
    try:
        text = resources.files(__name__).joinpath(filename).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"no prompt template {filename}") from exc
    system, separator, user = text.partition("[user]\n")
    if not separator or not system.startswith("[system]\n"):
        raise ConfigError(f"prompt template {filename} lacks its [system] / [user] sections")
    return Prompt(name, version, system.removeprefix("[system]\n").strip(), user.strip())
