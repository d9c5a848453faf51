// Package collector collects container logs from Kubernetes clusters into the
// store.
//
// A Manager runs one collector per registered cluster. Each collector keeps one
// shared pod informer (client-go's reflector re-lists after 410 Gone and
// reconnects its watch by itself) and one follow stream per container instance,
// keyed by container ID, opened with timestamps=true. Streams per cluster are
// bounded by Config.MaxStreams; extra streams wait for a slot.
//
// # Exact resume
//
// Each stream remembers a Resume point: the node timestamp of the last line
// taken and how many lines with that timestamp were taken. After any break (a
// broken connection, an API server restart, a silent stall caught by the idle
// watchdog, the maximum stream lifetime, a restart of kubelog) the stream is
// opened again with SinceTime at the resume timestamp, which the API rounds
// down to the second, and the lines before the resume point are skipped. The
// resume point is saved in Checkpoints only after the Sink acknowledged the
// entries, so a crash can only repeat entries, and the store drops an entry
// identical to a stored one. Identical lines at one timestamp stay distinct
// through the "ordinal" metadata (the line's index among the lines of its
// container instance with that timestamp, added when it is not 0).
//
// Resume relies on the node's timestamps not going backwards within one
// container instance, which is how container runtimes stamp lines.
//
// # Partial lines
//
// Runtimes split lines longer than their buffer (16 KiB for containerd) into
// partial CRI records. The kubelet's log reader (k8s.io/cri-client, as used by
// kubelets since 1.32 and by kwok) joins them and, with timestamps=true, writes
// only the first record's timestamp, so the line arrives whole; its timestamp
// is the first record's. Older kubelets wrote each partial record's timestamp
// in front of its text: with Config.StripPartialTimestamps the collector
// removes those. A candidate is an RFC 3339 timestamp in the same form as the
// line's own, followed by a space, no earlier than the previous record's and
// at most PartialMaxSpan later, and preceded by at least PartialMinBytes bytes
// of the line. A line whose own text holds such a timestamp at such a place
// cannot be told apart, which is why it is off by default.
//
// A line that straddles the SinceTime of a reopened stream arrives without
// its timestamp (the kubelet drops the records before SinceTime); it lies
// before the resume point and is dropped.
//
// # Selections
//
// Selections (collection configs) decide which containers are collected. A
// container that stops being selected has its stream stopped, keeping its
// resume point; when it is selected again the stream resumes from there, so
// the lines written in between are collected without duplicates.
//
// # One-time jobs
//
// Manager.CollectOnce reads what chosen containers logged so far (with
// SinceTime, TailLines, Previous) without following, stores it and returns.
// It saves no resume point, so it never moves continuous collection's.
//
// # Memory
//
// Each open stream buffers at most 256 parsed lines between its reader and its
// batcher and one batch of Config.BatchLines entries, each line at most
// Config.MaxLineBytes.
package collector
