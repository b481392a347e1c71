"""Who is who: the caller, and the directory of users and their public keys."""

from __future__ import annotations

from fastapi import APIRouter

from api.application.access import may_read_user
from api.http.deps import CallerDep, ServicesDep, errors_doc
from api.http.routes.schemas import MeOut, UserOut

router = APIRouter(tags=["read"])


@router.get("/v1/me", response_model=MeOut, responses=errors_doc(401))
def me(svc: ServicesDep, who: CallerDep) -> MeOut:
    """Who the token belongs to, as the directory knows them."""
    user = svc.ledger.require_directory().users[who.user_id]
    return MeOut(
        user_id=user.user_id,
        name=user.name,
        role=user.role.value,
        agency=user.agency,
        active_keys=[k.key_id for k in user.active_keys()],
    )


@router.get("/v1/users", response_model=list[UserOut], responses=errors_doc(401))
def users(svc: ServicesDep, who: CallerDep) -> list[UserOut]:
    """The directory: who may sign, in which role and agency, with which keys. An
    officer or agency lead sees their own agency's users and the chair, implementation
    group and scrutiny, not other agencies' staff or the administrators (an auditor's
    bundle carries every public key, so verification needs none of this)."""
    directory = svc.ledger.require_directory()
    return [
        UserOut(
            user_id=u.user_id,
            name=u.name,
            role=u.role.value,
            agency=u.agency,
            active_keys=[k.key_id for k in u.active_keys()],
            public_keys={k.key_id: k.public_key for k in u.keys.values()},
            revoked_keys=sum(1 for k in u.keys.values() if not k.active),
            deactivated=not u.active,
        )
        for u in sorted(directory.users.values(), key=lambda u: u.user_id)
        if may_read_user(who, u.role, u.agency)
    ]
