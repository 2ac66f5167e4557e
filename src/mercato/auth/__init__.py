"""The auth service: credentials, signing keys, access and refresh tokens.

It owns the user accounts (email, argon2id password hash, roles), the RSA keys that
sign access tokens (published as a JWKS), the refresh-token families, the list of
revoked token ids and the login-throttling counters. It publishes `user.registered`,
`user.roles_changed` and `auth.token_revoked` through its outbox.
"""
