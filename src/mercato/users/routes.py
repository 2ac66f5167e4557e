"""HTTP routes of the users service: thin, parse and delegate to `service`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from mercato.chassis.deps import RuntimeDep, SessionDep
from mercato.chassis.errors import Forbidden
from mercato.chassis.events import Outbox
from mercato.chassis.security import Admin, CurrentUser, Principal
from mercato.users import service
from mercato.users.models import Profile
from mercato.users.schemas import AddressOut, ProfileOut, ProfilePage, ProfilePatch

__all__ = ["router"]

router = APIRouter(prefix="/api/users", tags=["users"])


async def outbox_of(runtime: RuntimeDep) -> Outbox:
    """FastAPI dependency: the service's outbox."""
    if runtime.outbox is None:
        raise RuntimeError("the users service runs without an outbox")
    return runtime.outbox


async def admin_or_service(principal: CurrentUser) -> Principal:
    """FastAPI dependency: the caller, who must be an admin or another service."""
    if not (principal.is_admin or principal.is_service or "service" in principal.roles):
        raise Forbidden("This needs the admin role or a service token.")
    return principal


AdminOrService = Annotated[Principal, Depends(admin_or_service)]
OutboxDep = Annotated[Outbox, Depends(outbox_of)]


def profile_out(profile: Profile) -> ProfileOut:
    """The API shape of a stored profile."""
    addresses: list[dict[str, Any]] = profile.addresses or []
    return ProfileOut(
        id=profile.user_id,
        email=profile.email,
        name=profile.name,
        bio=profile.bio,
        avatar_url=profile.avatar_url,
        preferences=profile.preferences or {},
        addresses=[AddressOut.model_validate(address) for address in addresses],
        created_at=profile.created_at,
        updated_at=profile.updated_at,
    )


@router.get("/me", summary="Read your own profile")
async def read_me(principal: CurrentUser, session: SessionDep) -> ProfileOut:
    """The caller's profile, created from their token on first use."""
    identity = service.identity_of(principal)
    return profile_out(await service.get_own_profile(session, identity=identity))


@router.patch("/me", summary="Change your own profile")
async def update_me(
    profile_in: ProfilePatch, principal: CurrentUser, session: SessionDep, outbox: OutboxDep
) -> ProfileOut:
    """Change name, bio, avatar, preferences (merged) or addresses (replaced)."""
    identity = service.identity_of(principal)
    profile = await service.update_own_profile(
        session, outbox=outbox, identity=identity, patch=profile_in
    )
    return profile_out(profile)


@router.get("", summary="List profiles (admin)")
async def list_profiles(
    _: Admin,
    session: SessionDep,
    email: Annotated[str | None, Query(max_length=320)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> ProfilePage:
    """Profiles newest first, filtered by email (any case), keyset paged."""
    found = await service.list_profiles(session, email=email, limit=limit, cursor=cursor)
    return ProfilePage(
        items=[profile_out(profile) for profile in found.items], next_cursor=found.next_cursor
    )


@router.get("/{user_id}", summary="Read a profile by user id (admin or service)")
async def read_profile(user_id: str, _: AdminOrService, session: SessionDep) -> ProfileOut:
    """The profile of `user_id`; 404 when there is none."""
    return profile_out(await service.get_profile(session, user_id=user_id))
