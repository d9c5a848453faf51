-- Resume points of the Kubernetes collector (package collector), one per
-- container instance: key is tenant/cluster/container-ID, ts the node
-- timestamp (Unix nanoseconds) of the last line stored and count the number of
-- lines stored at ts. updated_at is Unix nanoseconds.
CREATE TABLE collector_checkpoints (
	key TEXT PRIMARY KEY,
	ts BIGINT NOT NULL,
	count INTEGER NOT NULL,
	updated_at BIGINT NOT NULL
);
