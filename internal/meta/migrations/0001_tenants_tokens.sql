-- Tenants own every other row. limits is a JSON document (package auth's
-- Limits); NULL means the server's defaults.
CREATE TABLE tenants (
	name TEXT PRIMARY KEY,
	created_at BIGINT NOT NULL,
	limits TEXT
);

-- Tokens are stored as the SHA-256 of the secret, never the secret. Times
-- are Unix nanoseconds; NULL expires_at means never, NULL revoked_at and
-- last_used_at mean not yet.
CREATE TABLE tokens (
	id TEXT PRIMARY KEY,
	tenant TEXT NOT NULL REFERENCES tenants (name),
	name TEXT NOT NULL,
	hash TEXT NOT NULL UNIQUE,
	scopes TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT,
	revoked_at BIGINT,
	last_used_at BIGINT
);

CREATE INDEX tokens_tenant ON tokens (tenant);

-- A name picks out one live token in its tenant.
CREATE UNIQUE INDEX tokens_live_name ON tokens (tenant, name) WHERE revoked_at IS NULL;
