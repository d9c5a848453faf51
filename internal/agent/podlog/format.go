package podlog

import "bytes"

// Format is the layout of a container log file.
type Format int

// The formats a Decoder reads.
const (
	// FormatUnknown is what Detect says of bytes it cannot place.
	FormatUnknown Format = iota
	// FormatCRI is the kubelet's format, written by containerd and CRI-O:
	// "<RFC 3339 time> <stdout|stderr> <P|F> <text>\n".
	FormatCRI
	// FormatDocker is Docker's json-file format:
	// {"log":"<text>\n","stream":"stdout","time":"<RFC 3339 time>"}.
	FormatDocker
)

// String returns the format's name.
func (f Format) String() string {
	switch f {
	case FormatCRI:
		return "cri"
	case FormatDocker:
		return "docker"
	}
	return "unknown"
}

// Detect says which format a file is in from its first bytes: FormatDocker
// when they open a JSON object, FormatCRI when they start with a timestamp
// and a stream name, FormatUnknown otherwise. b needs to hold the start of
// the first record up to its stream name; with fewer bytes, call Detect
// again when more have been read.
func Detect(b []byte) Format {
	if len(b) > 0 && b[0] == '{' {
		return FormatDocker
	}
	sp := bytes.IndexByte(b[:min(len(b), maxTimestampLen+1)], ' ')
	if sp < 0 {
		return FormatUnknown
	}
	if _, ok := parseTimestamp(b[:sp]); !ok {
		return FormatUnknown
	}
	if _, ok := parseStream(b[sp+1:]); !ok {
		return FormatUnknown
	}
	return FormatCRI
}
