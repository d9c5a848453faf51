-- Cluster configs, collection configs and collection jobs (package clusters).
-- Times are Unix nanoseconds. kubeconfig is the inline YAML of one context
-- (empty when in_cluster is 1); it is never returned by the API.
CREATE TABLE cluster_configs (
	id TEXT PRIMARY KEY,
	tenant TEXT NOT NULL REFERENCES tenants (name),
	name TEXT NOT NULL,
	kubeconfig TEXT NOT NULL,
	in_cluster INTEGER NOT NULL,
	context TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX cluster_configs_name ON cluster_configs (tenant, name);

-- only_containers and ignore_containers are JSON arrays of names.
CREATE TABLE collection_configs (
	id TEXT PRIMARY KEY,
	tenant TEXT NOT NULL REFERENCES tenants (name),
	cluster_id TEXT NOT NULL REFERENCES cluster_configs (id) ON DELETE CASCADE,
	namespace TEXT NOT NULL,
	label_selector TEXT NOT NULL,
	only_containers TEXT NOT NULL,
	ignore_containers TEXT NOT NULL,
	include_init INTEGER NOT NULL,
	enabled INTEGER NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);

CREATE INDEX collection_configs_cluster ON collection_configs (cluster_id);

-- kind is once, continuous or bulk; request is the job's JSON request and
-- progress its JSON per-pod progress; errors is a JSON array of messages.
CREATE TABLE collect_jobs (
	id TEXT PRIMARY KEY,
	tenant TEXT NOT NULL REFERENCES tenants (name),
	cluster_id TEXT NOT NULL REFERENCES cluster_configs (id) ON DELETE CASCADE,
	kind TEXT NOT NULL,
	request TEXT NOT NULL,
	status TEXT NOT NULL,
	lines BIGINT NOT NULL,
	bytes BIGINT NOT NULL,
	errors TEXT NOT NULL,
	progress TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	started_at BIGINT,
	ended_at BIGINT
);

CREATE INDEX collect_jobs_tenant ON collect_jobs (tenant, created_at);
