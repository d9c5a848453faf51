// Package logmodel holds the types every part of kubelog shares: label sets,
// entries, cursors and page tokens. It knows nothing about storage or HTTP.
package logmodel

import (
	"cmp"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Label is one name/value pair, used both for stream labels and for
// structured metadata.
type Label struct {
	Name  string
	Value string
}

// Labels is a label set sorted by name, with unique names. Use NewLabels or
// Sort to establish the invariant; the methods assume it.
type Labels []Label

// NewLabels builds a sorted label set from name/value pairs. A later value for
// a repeated name wins.
func NewLabels(m map[string]string) Labels {
	ls := make(Labels, 0, len(m))
	for k, v := range m {
		ls = append(ls, Label{Name: k, Value: v})
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
	return ls
}

// FromPairs builds a label set from alternating names and values. It panics on
// an odd count: that is a programmer error.
func FromPairs(kv ...string) Labels {
	if len(kv)%2 != 0 {
		panic("BUG: logmodel.FromPairs needs an even number of strings")
	}
	ls := make(Labels, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		ls = append(ls, Label{Name: kv[i], Value: kv[i+1]})
	}
	return ls.Sort()
}

// Sort sorts ls in place by name, drops earlier duplicates of a name, and
// returns it.
func (ls Labels) Sort() Labels {
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
	out := ls[:0]
	for i, l := range ls {
		if i+1 < len(ls) && ls[i+1].Name == l.Name {
			continue
		}
		out = append(out, l)
	}
	return out
}

// Get returns the value of name, or "" when it is absent.
func (ls Labels) Get(name string) string {
	for _, l := range ls {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// Has reports whether name is present.
func (ls Labels) Has(name string) bool {
	for _, l := range ls {
		if l.Name == name {
			return true
		}
	}
	return false
}

// Map returns the labels as a new map.
func (ls Labels) Map() map[string]string {
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Name] = l.Value
	}
	return m
}

// Copy returns a deep copy whose strings do not alias ls.
func (ls Labels) Copy() Labels {
	if ls == nil {
		return nil
	}
	out := make(Labels, len(ls))
	for i, l := range ls {
		out[i] = Label{Name: strings.Clone(l.Name), Value: strings.Clone(l.Value)}
	}
	return out
}

// Equal reports whether two sorted label sets are identical.
func (ls Labels) Equal(o Labels) bool {
	if len(ls) != len(o) {
		return false
	}
	for i := range ls {
		if ls[i] != o[i] {
			return false
		}
	}
	return true
}

// String renders the set in Prometheus/Loki form: {a="b", c="d"}.
func (ls Labels) String() string {
	return string(ls.AppendString(make([]byte, 0, 64)))
}

// Compare orders label sets by their labels in turn (name, then value),
// then by length; it returns -1, 0 or +1.
func (ls Labels) Compare(o Labels) int {
	for i := 0; i < len(ls) && i < len(o); i++ {
		if c := strings.Compare(ls[i].Name, o[i].Name); c != 0 {
			return c
		}
		if c := strings.Compare(ls[i].Value, o[i].Value); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(ls), len(o))
}

// AppendString appends the String form of the set to dst.
func (ls Labels) AppendString(dst []byte) []byte {
	dst = append(dst, '{')
	for i, l := range ls {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, l.Name...)
		dst = append(dst, '=')
		dst = strconv.AppendQuote(dst, l.Value)
	}
	return append(dst, '}')
}

// AppendJSON appends the set as a JSON object, in its order: for a set
// sorted by name, the bytes encoding/json writes for its Map.
func (ls Labels) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	for i, l := range ls {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, l.Name)
		dst = append(dst, ':')
		dst = AppendJSONString(dst, l.Value)
	}
	return append(dst, '}')
}

// Hash returns a 64-bit hash of the set, stable across processes and versions.
func (ls Labels) Hash() uint64 {
	d := xxhash.New()
	for _, l := range ls {
		_, _ = d.WriteString(l.Name)
		_, _ = d.Write([]byte{0xff})
		_, _ = d.WriteString(l.Value)
		_, _ = d.Write([]byte{0xfe})
	}
	return d.Sum64()
}

// ValidLabelName reports whether s is a Prometheus-style label name:
// [a-zA-Z_][a-zA-Z0-9_]*.
func ValidLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// ErrInvalidLabel describes a label that breaks the naming rules.
type ErrInvalidLabel struct{ Name string }

func (e *ErrInvalidLabel) Error() string {
	return fmt.Sprintf("invalid label name %q: must match [a-zA-Z_][a-zA-Z0-9_]*", e.Name)
}
