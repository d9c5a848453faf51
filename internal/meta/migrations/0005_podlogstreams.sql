-- PodLogStream objects (package kapi), one row per object: the object is its
-- JSON, as served; names are unique per tenant. resource_version is the
-- object's; podlogstream_sequence holds the last resourceVersion given out
-- (one row, id 1), so that it stays monotonic across deletions and restarts.
CREATE TABLE podlogstreams (
	tenant TEXT NOT NULL,
	name TEXT NOT NULL,
	uid TEXT NOT NULL,
	resource_version BIGINT NOT NULL,
	object TEXT NOT NULL,
	PRIMARY KEY (tenant, name)
);

CREATE TABLE podlogstream_sequence (
	id INTEGER PRIMARY KEY,
	resource_version BIGINT NOT NULL
);
