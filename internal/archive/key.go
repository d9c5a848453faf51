package archive

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ObjectKey names one archived object: the entries of one stream in one hour.
// Its string form is
//
//	<prefix>/<tenant>/<cluster>/<namespace>/<pod>/<container>/YYYY/MM/DD/HH/<first_ts>-<last_ts>.ndjson.<ext>
//
// where the times are Unix nanoseconds, empty label values are "_", and
// other values are path-escaped, so that the key is deterministic and parses
// back.
type ObjectKey struct {
	Prefix    string
	Tenant    string
	Cluster   string
	Namespace string
	Pod       string
	Container string
	// Hour is the start of the hour the entries fall in, Unix nanoseconds.
	Hour    int64
	FirstTs int64
	LastTs  int64
	// Compression is "zstd" or "gzip".
	Compression string
}

// extensions maps compressions to their file extensions.
var extensions = map[string]string{CompressionZstd: ".ndjson.zst", CompressionGzip: ".ndjson.gz"}

func escapeComponent(s string) string {
	if s == "" {
		return "_"
	}
	if s == "_" {
		return "%5F"
	}
	return url.PathEscape(s)
}

func unescapeComponent(s string) (string, error) {
	if s == "_" {
		return "", nil
	}
	if s == "" {
		return "", fmt.Errorf("empty path component")
	}
	return url.PathUnescape(s)
}

// String renders the key.
func (k ObjectKey) String() string {
	var b strings.Builder
	if p := strings.Trim(k.Prefix, "/"); p != "" {
		b.WriteString(p)
		b.WriteByte('/')
	}
	for _, c := range []string{k.Tenant, k.Cluster, k.Namespace, k.Pod, k.Container} {
		b.WriteString(escapeComponent(c))
		b.WriteByte('/')
	}
	b.WriteString(time.Unix(0, k.Hour).UTC().Format("2006/01/02/15"))
	fmt.Fprintf(&b, "/%d-%d%s", k.FirstTs, k.LastTs, extensions[k.Compression])
	return b.String()
}

// ParseObjectKey parses a key written by ObjectKey.String. The prefix is
// everything before the last 15 path components.
func ParseObjectKey(s string) (ObjectKey, error) {
	var k ObjectKey
	parts := strings.Split(s, "/")
	if len(parts) < 10 {
		return k, fmt.Errorf("archive key %q has %d path components, want at least 10", s, len(parts))
	}
	n := len(parts)
	k.Prefix = strings.Trim(strings.Join(parts[:n-10], "/"), "/")
	var err error
	fields := []*string{&k.Tenant, &k.Cluster, &k.Namespace, &k.Pod, &k.Container}
	for i, f := range fields {
		if *f, err = unescapeComponent(parts[n-10+i]); err != nil {
			return k, fmt.Errorf("archive key %q: %w", s, err)
		}
	}
	hour, err := time.Parse("2006/01/02/15", strings.Join(parts[n-5:n-1], "/"))
	if err != nil {
		return k, fmt.Errorf("archive key %q: bad hour: %w", s, err)
	}
	k.Hour = hour.UnixNano()
	name := parts[n-1]
	for c, ext := range extensions {
		if strings.HasSuffix(name, ext) {
			k.Compression = c
			name = strings.TrimSuffix(name, ext)
		}
	}
	if k.Compression == "" {
		return k, fmt.Errorf("archive key %q: the name does not end in .ndjson.zst or .ndjson.gz", s)
	}
	first, last, ok := strings.Cut(name, "-")
	if !ok {
		return k, fmt.Errorf("archive key %q: the name is not <first_ts>-<last_ts>", s)
	}
	if k.FirstTs, err = strconv.ParseInt(first, 10, 64); err != nil {
		return k, fmt.Errorf("archive key %q: bad first timestamp", s)
	}
	if k.LastTs, err = strconv.ParseInt(last, 10, 64); err != nil {
		return k, fmt.Errorf("archive key %q: bad last timestamp", s)
	}
	if k.FirstTs > k.LastTs || k.FirstTs < k.Hour || k.LastTs >= k.Hour+int64(time.Hour) {
		return k, fmt.Errorf("archive key %q: timestamps are not inside the hour", s)
	}
	return k, nil
}
