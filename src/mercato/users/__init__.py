"""The users service: customer profiles, shipping addresses and preferences.

A profile is keyed by the auth user id (the token's `sub`). It is created from
auth's `user.registered` event, or on demand from the token's claims when the
customer asks for it before that event has arrived. Customers read and change only
their own profile (`/api/users/me`); admins and other services look profiles up by id.
"""
