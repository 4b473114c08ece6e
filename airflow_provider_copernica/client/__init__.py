"""The Copernica REST client's rules, shared by both hooks: connection settings, request
rules, retries, JWTs, OAuth, secret masking and the concurrency limiter. No engine here."""
