package logmodel

import (
	"encoding/base64"
	"strings"
	"time"
	"unicode/utf8"
)

// EntryJSON is the entry as every surface serves it (retrieval, search, tail
// events, archive lines): snake_case, times in RFC3339 with nanoseconds, UTC.
type EntryJSON struct {
	Timestamp string `json:"timestamp"`
	Cursor    string `json:"cursor"`
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Container string `json:"container"`
	Level     string `json:"level"`
	Message   string `json:"message"`
	// MessageBase64 carries the exact bytes when the line is not valid UTF-8;
	// Message then has U+FFFD in place of the bad bytes.
	MessageBase64 string            `json:"message_base64,omitempty"`
	Labels        map[string]string `json:"labels"`
	Metadata      map[string]string `json:"metadata"`
}

// FormatTime renders a Unix-nanosecond time as RFC3339 with nanoseconds, UTC.
func FormatTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

// ToJSON converts an entry to its served form.
func (e *Entry) ToJSON() EntryJSON {
	j := EntryJSON{
		Timestamp: FormatTime(e.Timestamp),
		Cursor:    e.Cursor.String(),
		Cluster:   e.Labels.Get("cluster"),
		Namespace: e.Labels.Get("namespace"),
		Pod:       e.Labels.Get("pod"),
		Container: e.Labels.Get("container"),
		Level:     e.Metadata.Get(MetaLevel),
		Labels:    e.Labels.Map(),
		Metadata:  e.Metadata.Map(),
	}
	if j.Level == "" {
		j.Level = "unknown"
	}
	if utf8.Valid(e.Line) {
		j.Message = string(e.Line)
	} else {
		j.Message = strings.ToValidUTF8(string(e.Line), "\uFFFD")
		j.MessageBase64 = base64.StdEncoding.EncodeToString(e.Line)
	}
	return j
}
