package logmodel

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzAppendJSONString checks the string encoder against encoding/json.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain ascii line", "tab\there \"quoted\" back\\slash", "caf\u00e9 \xff\xfe bad utf-8", "\x00\x01 control"} {
		f.Add(s)
	}
	f.Add(`0123456789abcdef"0123456789abcdef\\0123456789` + "\x1f\x7f\u2029")
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got := string(AppendJSONString(nil, s)) + "\n"; got != want.String() {
			t.Fatalf("got  %s\nwant %s", got, want.String())
		}
		if got := string(AppendJSONString(nil, []byte(s))) + "\n"; got != want.String() {
			t.Fatalf("[]byte: got  %s\nwant %s", got, want.String())
		}
	})
}
