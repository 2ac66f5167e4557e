"""HTTP routes of the users service: thin, parse and delegate to `service`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from mercato.chassis.security.tokens import Admin, AdminOrService, CurrentUser, authenticated
from mercato.chassis.web.dependencies import OutboxDep, SessionDep, get_runtime
from mercato.chassis.web.direct_routes import direct_route
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.json_response import JsonResponse
from mercato.chassis.web.openapi import problems
from mercato.chassis.web.paging import CursorQuery, page_size
from mercato.users import service
from mercato.users.schemas import ProfileOut, ProfilePage, ProfilePatch, profile_body

__all__ = ["router"]

router = APIRouter(prefix="/api/users", tags=["users"], route_class=StrictJsonRoute)
NO_PROFILE = "A service token: it has no profile (look profiles up by id)."


# The hottest read of the service: a direct route (see chassis.web.direct_routes).
@direct_route(
    router,
    "/me",
    response_model=ProfileOut,
    summary="Read your own profile",
    responses=problems({403: NO_PROFILE}),
)
async def read_me(request: Request) -> Response:
    """The caller's profile, created from their token on first use (a single upsert)."""
    identity = service.identity_of(await authenticated(request))
    database = get_runtime(request).database
    return JsonResponse(profile_body(await service.get_own_profile(database, identity=identity)))


@router.patch(
    "/me",
    response_model=ProfileOut,
    summary="Change your own profile",
    responses=problems(
        {
            403: NO_PROFILE,
            409: "The profile was changed concurrently; read it again and retry.",
            422: "Invalid fields, preferences beyond their bounds, or address ids the "
            "profile does not have.",
        }
    ),
)
async def update_me(
    profile_in: ProfilePatch, principal: CurrentUser, session: SessionDep, outbox: OutboxDep
) -> Response:
    """Change name, bio, avatar, preferences (merged) or addresses (replaced)."""
    identity = service.identity_of(principal)
    profile = await service.update_own_profile(
        session, outbox=outbox, identity=identity, patch=profile_in
    )
    return JsonResponse(profile_body(profile))


@router.get("", response_model=ProfilePage, summary="List profiles (admin)")
async def list_profiles(
    _: Admin,
    session: SessionDep,
    email: Annotated[
        str | None, Query(max_length=320, description="An email, in any case.")
    ] = None,
    limit: Annotated[int, page_size(100)] = 20,
    cursor: CursorQuery = None,
) -> Response:
    """Profiles newest first, filtered by email (any case), keyset paged."""
    found = await service.list_profiles(session, email=email, limit=limit, cursor=cursor)
    return JsonResponse(
        {"items": [profile_body(p) for p in found.items], "next_cursor": found.next_cursor}
    )


@router.get(
    "/{user_id}",
    response_model=ProfileOut,
    summary="Read a profile by user id (admin or service)",
    responses=problems({404: "No profile for this user."}),
)
async def read_profile(
    user_id: Annotated[str, Path(description="The user's id.")],
    _: AdminOrService,
    session: SessionDep,
) -> Response:
    """The profile of `user_id`; 404 when there is none."""
    return JsonResponse(profile_body(await service.get_profile(session, user_id=user_id)))
