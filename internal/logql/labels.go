package logql

import (
	"sort"
	"strings"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// Labels the pipeline adds on errors, and the error kinds it reports.
const (
	errorLabel        = "__error__"
	errorDetailsLabel = "__error_details__"
	extractedSuffix   = "_extracted"

	errJSON        = "JSONParserErr"
	errLogfmt      = "LogfmtParserErr"
	errLabelFilter = "LabelFilterErr"
	errTemplate    = "TemplateFormatErr"
	errSample      = "SampleExtractionErr"
)

// labelsBuilder holds the labels of one entry while a pipeline runs: the
// stream labels, structured metadata and labels set by stages, plus the
// pipeline error if any. One builder is reused for every entry of a worker.
type labelsBuilder struct {
	stream logmodel.Labels
	// cur holds the current labels in no particular order, without the
	// error labels.
	cur []logmodel.Label
	// changed is false while cur equals stream.
	changed         bool
	err, errDetails string
	// preserved is an error that a label filter on __error__ chose to
	// keep: a metric query counts such samples instead of failing.
	preserved string
	out       []logmodel.Label
}

// reset starts a new entry. Structured metadata becomes labels; a name that
// clashes with a stream label gets the "_extracted" suffix, as in Loki.
func (b *labelsBuilder) reset(stream, meta logmodel.Labels) {
	b.stream = stream
	b.cur = append(b.cur[:0], stream...)
	b.changed = false
	b.err, b.errDetails, b.preserved = "", "", ""
	for _, m := range meta {
		b.setParsed(m.Name, m.Value)
	}
}

// baseHas reports whether name is a stream label.
func (b *labelsBuilder) baseHas(name string) bool {
	i := sort.Search(len(b.stream), func(i int) bool { return b.stream[i].Name >= name })
	return i < len(b.stream) && b.stream[i].Name == name
}

func (b *labelsBuilder) index(name string) int {
	for i := range b.cur {
		if b.cur[i].Name == name {
			return i
		}
	}
	return -1
}

// get returns the value of a label, including the error labels.
func (b *labelsBuilder) get(name string) (string, bool) {
	switch name {
	case errorLabel:
		return b.err, b.err != ""
	case errorDetailsLabel:
		return b.errDetails, b.errDetails != ""
	}
	if i := b.index(name); i >= 0 {
		return b.cur[i].Value, true
	}
	return "", false
}

func (b *labelsBuilder) set(name, value string) {
	b.changed = true
	if i := b.index(name); i >= 0 {
		b.cur[i].Value = value
		return
	}
	b.cur = append(b.cur, logmodel.Label{Name: name, Value: value})
}

// parsedName returns the name a parser gives to key: with "_extracted"
// appended when a stream label has that name.
func (b *labelsBuilder) parsedName(key string) string {
	if b.baseHas(key) {
		return key + extractedSuffix
	}
	return key
}

// setParsed sets a label found by a parser or in structured metadata.
func (b *labelsBuilder) setParsed(key, value string) { b.set(b.parsedName(key), value) }

func (b *labelsBuilder) del(name string) {
	switch name {
	case errorLabel:
		b.err = ""
		return
	case errorDetailsLabel:
		b.errDetails = ""
		return
	}
	if i := b.index(name); i >= 0 {
		last := len(b.cur) - 1
		b.cur[i] = b.cur[last]
		b.cur = b.cur[:last]
		b.changed = true
	}
}

// setErr records a pipeline error; the last one wins.
func (b *labelsBuilder) setErr(kind, details string) {
	b.err, b.errDetails = kind, details
}

func (b *labelsBuilder) hasErr() bool { return b.err != "" }

// unwantedErr reports whether the entry has an error that no label filter
// chose to keep.
func (b *labelsBuilder) unwantedErr() bool { return b.err != "" && b.err != b.preserved }

// labels returns the entry's sorted label set, with the error labels. The
// result is valid until the next change to b; callers copy what they keep.
func (b *labelsBuilder) labels() logmodel.Labels {
	if !b.changed && b.err == "" && b.errDetails == "" {
		return b.stream
	}
	out := append(b.out[:0], b.cur...)
	if b.err != "" {
		out = append(out, logmodel.Label{Name: errorLabel, Value: b.err})
	}
	if b.errDetails != "" {
		out = append(out, logmodel.Label{Name: errorDetailsLabel, Value: b.errDetails})
	}
	sortLabels(out)
	b.out = out
	return out
}

// sortLabels sorts a small label slice by name (insertion sort: label sets
// are short and often nearly sorted).
func sortLabels(ls []logmodel.Label) {
	for i := 1; i < len(ls); i++ {
		for j := i; j > 0 && ls[j].Name < ls[j-1].Name; j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
}

// appendKey appends an unambiguous encoding of a sorted label set to buf,
// for use as a map key.
func appendKey(buf []byte, ls []logmodel.Label) []byte {
	for _, l := range ls {
		buf = append(buf, l.Name...)
		buf = append(buf, 0xff)
		buf = append(buf, l.Value...)
		buf = append(buf, 0xfe)
	}
	return buf
}

// cloneLabels returns a copy of a label set held in the builder's scratch
// space. The strings need no copy: they come from stream labels and
// metadata, which a Source lets the engine keep, or were allocated by the
// pipeline; none aliases an entry's line.
func cloneLabels(ls []logmodel.Label) logmodel.Labels {
	return append(make(logmodel.Labels, 0, len(ls)), ls...)
}

// sanitizeKey turns a parsed field name into a label name: bytes other than
// ASCII letters, digits and "_" become "_", and a leading digit (or an empty
// name) gets a "_" prefix.
func sanitizeKey(key string) string {
	ok := key != "" && !isDigit(key[0])
	for i := 0; ok && i < len(key); i++ {
		ok = isIdentChar(key[i])
	}
	if ok {
		return key
	}
	return string(appendSanitized(nil, []byte(key)))
}

// appendSanitized appends the sanitized form of key to dst.
func appendSanitized(dst, key []byte) []byte {
	if len(key) == 0 || isDigit(key[0]) {
		dst = append(dst, '_')
	}
	for _, c := range key {
		if !isIdentChar(c) {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// stringCache turns short, repeated byte strings (label names, levels,
// status codes) into strings without allocating each time. It stops
// caching when most lookups miss, as for unique values. It belongs to one
// worker.
type stringCache struct {
	m            map[string]string
	hits, misses int
}

const (
	maxCachedString = 64
	maxCacheEntries = 1024
)

func (c *stringCache) get(b []byte) string {
	if len(b) > maxCachedString || c.misses > 4*c.hits+maxCacheEntries {
		return string(b)
	}
	if s, ok := c.m[string(b)]; ok {
		c.hits++
		return s
	}
	c.misses++
	s := string(b)
	if c.m == nil || len(c.m) >= maxCacheEntries {
		c.m = make(map[string]string)
	}
	c.m[s] = s
	return s
}

// labelHints is the set of labels that later stages or the output use, so
// that parsers can skip the others; nil means every label.
type labelHints map[string]bool

func (h labelHints) wants(name string) bool { return h == nil || h[name] }

// wantsPrefix reports whether a wanted label starts with prefix.
func (h labelHints) wantsPrefix(prefix string) bool {
	if h == nil {
		return true
	}
	for n := range h {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}
