"""Who may see which case: the one place where case access rules live.

Every use case that names or describes a stored case (show, list, delete, search hits,
``like_case``, similar cases) asks :class:`CaseAccess` first, whatever shell called it and
whatever store or vector backend is configured.

The rules (documented in the README's *Accounts* section):

* **admin** — every case, read and delete;
* **researcher** — read every case (search, list, show), delete none;
* **clinician** — the cases they created (through the API), read and delete; and the *shared*
  reference cases the operator imported for everyone (``ocais ingest --shared``: published case
  reports, released synthetic sets), read only;
* the **local operator** (the ``ocais`` command, which opens the store files itself) acts as an
  admin: whoever can run it can read the database anyway.

A case the caller may not see is answered exactly like a case that does not exist (the same
:class:`~ocais.errors.NotFoundError`), so its id cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from ocais.errors import AccessDeniedError, NotFoundError
from ocais.search.service import Visibility
from ocais.store import Repository
from ocais.store.service_repo import ServiceRepository

Action = Literal["read", "delete"]


class Actor(Protocol):
    """Who is acting: a user id and a role (``serve.accounts.Principal`` is one)."""

    @property
    def user_id(self) -> str: ...

    @property
    def role(self) -> str: ...


@dataclass(frozen=True)
class Operator:
    """The local operator of the ``ocais`` command: full access, like an admin."""

    user_id: str = "local-operator"
    role: str = "admin"


OPERATOR = Operator()


def no_such_case(case_id: str) -> NotFoundError:
    """The one answer for a missing case and for a case the caller may not see."""
    return NotFoundError(
        f"no case with id {case_id!r} that you may see",
        hint="check the id (ocais cases list / GET /api/v1/cases); clinicians see the cases "
        "they created",
    )


class CaseAccess:
    """Applies the access rules; case ownership comes from the service tables, the shared flag
    from the case store."""

    def __init__(self, owners: ServiceRepository, cases: Repository) -> None:
        self.owners, self.cases = owners, cases

    @staticmethod
    def sees_all(actor: Actor) -> bool:
        return actor.role in ("admin", "researcher")

    def owned_ids(self, actor: Actor) -> tuple[str, ...]:
        """The ids of the cases ``actor`` created, oldest first."""
        total = self.owners.count_owned_cases(actor.user_id)
        return tuple(self.owners.owned_case_ids(actor.user_id, limit=total, offset=0))

    def visible(self, actor: Actor) -> Visibility | None:
        """What ``actor`` may see, or ``None`` for every case."""
        if self.sees_all(actor):
            return None
        if actor.role != "clinician":
            return Visibility(owned=(), shared=False)
        return Visibility(owned=self.owned_ids(actor), shared=True)

    def allows(self, actor: Actor, case_id: str, action: Action) -> bool:
        if actor.role == "admin" or (action == "read" and actor.role == "researcher"):
            return True
        if actor.role != "clinician":
            return False
        if self.owners.case_owner(case_id) == actor.user_id:
            return True
        return action == "read" and bool(self.cases.shared_ids([case_id]))

    def check(self, actor: Actor, case_id: str, action: Action) -> None:
        """Raise unless ``actor`` may ``action`` the case: :func:`no_such_case` if they may not
        even see it, :class:`AccessDeniedError` if they see it but may not ``action`` it."""
        if self.allows(actor, case_id, action):
            return
        if action != "read" and self.allows(actor, case_id, "read"):
            raise AccessDeniedError(
                f"the {actor.role} role may not {action} cases",
                hint="clinicians delete the cases they created; admins manage all cases",
            )
        raise no_such_case(case_id)
