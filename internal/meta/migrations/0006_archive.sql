-- Archive to S3 (package archive). A policy's definition is JSON in spec
-- (secrets included; the API never returns them). Times are Unix nanoseconds.
CREATE TABLE archive_policies (
	id TEXT PRIMARY KEY,
	tenant TEXT NOT NULL,
	name TEXT NOT NULL,
	spec TEXT NOT NULL,
	archived_until BIGINT NOT NULL DEFAULT 0,
	last_run_at BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	UNIQUE (tenant, name)
);

-- Jobs: range [range_start, range_end) of the policy's streams, entries with
-- a cursor up to snapshot_seq, so that a resumed job reads the same entries.
CREATE TABLE archive_jobs (
	id TEXT PRIMARY KEY,
	tenant TEXT NOT NULL,
	policy_id TEXT NOT NULL,
	status TEXT NOT NULL,
	range_start BIGINT NOT NULL,
	range_end BIGINT NOT NULL,
	snapshot_seq BIGINT NOT NULL,
	progress TEXT NOT NULL,
	error TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	started_at BIGINT NOT NULL DEFAULT 0,
	finished_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX archive_jobs_policy ON archive_jobs (tenant, policy_id, created_at);

-- The index of archived objects, so that listing, statistics and query
-- pruning need no LIST call. One row per object; stream_hash and hour let a
-- resumed job skip what it already wrote; bloom (base64) is the token bloom
-- filter of the object's lines, so that searches skip objects that cannot
-- match.
CREATE TABLE archive_objects (
	policy_id TEXT NOT NULL,
	object_key TEXT NOT NULL,
	tenant TEXT NOT NULL,
	job_id TEXT NOT NULL,
	bucket TEXT NOT NULL,
	stream_hash TEXT NOT NULL,
	hour BIGINT NOT NULL,
	cluster TEXT NOT NULL,
	namespace TEXT NOT NULL,
	pod TEXT NOT NULL,
	container TEXT NOT NULL,
	labels TEXT NOT NULL,
	first_ts BIGINT NOT NULL,
	last_ts BIGINT NOT NULL,
	lines BIGINT NOT NULL,
	raw_bytes BIGINT NOT NULL,
	size BIGINT NOT NULL,
	md5 TEXT NOT NULL,
	bloom TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (policy_id, object_key)
);
CREATE INDEX archive_objects_time ON archive_objects (tenant, first_ts);
CREATE INDEX archive_objects_job ON archive_objects (job_id, stream_hash, hour);
