-- Live-tail sessions (package tail). last_cursor is the cursor of the last
-- entry delivered; active is 0 once the session is ended. Times are Unix
-- nanoseconds.
CREATE TABLE tail_sessions (
	id TEXT PRIMARY KEY,
	tenant TEXT NOT NULL REFERENCES tenants (name),
	user_uuid TEXT NOT NULL,
	filter TEXT NOT NULL,
	service TEXT NOT NULL,
	last_cursor TEXT NOT NULL,
	active INTEGER NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);

CREATE INDEX tail_sessions_tenant ON tail_sessions (tenant, active, user_uuid);
