package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// renderStreams prints decoded streams compactly for comparisons:
// {labels} ts "line" {metadata} | ts "line" ; next stream.
func renderStreams(streams []Stream) string {
	var b strings.Builder
	for i, s := range streams {
		if i > 0 {
			b.WriteString(" ; ")
		}
		b.WriteString(s.Labels.String())
		for j, e := range s.Entries {
			if j > 0 {
				b.WriteString(" |")
			}
			fmt.Fprintf(&b, " %d %q", e.Timestamp, e.Line)
			if len(e.Metadata) > 0 {
				b.WriteString(" " + e.Metadata.String())
			}
		}
	}
	return b.String()
}

// jsonGood are valid JSON push bodies and their rendering; they also seed
// FuzzDecodeJSON.
var jsonGood = []struct{ body, want string }{
	{`{"streams":[]}`, ``},
	{`{"streams":null}`, ``},
	{`{}`, ``},
	{`{"streams":[{"stream":{"app":"api"},"values":[["1700000000000000000","hello"]]}]}`,
		`{app="api"} 1700000000000000000 "hello"`},
	{` { "streams" : [ { "values" : [ [ "1" , "a" ] , [ "2" , "b" , { "trace_id" : "t1" , "a" : "x" } ] ] , "stream" : { "z" : "1" , "a" : "2" } } ] } `,
		`{a="2", z="1"} 1 "a" | 2 "b" {a="x", trace_id="t1"}`},
	{`{"streams":[{"stream":{"a":"1"},"values":[]},{"stream":{"b":"2"},"values":null}]}`,
		`{a="1"} ; {b="2"}`},
	{`{"streams":[{"stream":{"a":"1"},"values":[["0","esc \"q\" \\ \/ \b\f\n\r\t \u00e9 \ud83d\ude00 \ud800x"]]}]}`,
		`{a="1"} 0 "esc \"q\" \\ / \b\f\n\r\t é 😀 �x"`},
	{`{"streams":[{"stream":{"a":"1","empty":""},"values":[["9223372036854775807",""]]}]}`,
		`{a="1"} 9223372036854775807 ""`},
	{`{"streams":[{"stream":{"a":"v\u00e9"},"extra":{"x":[1,2.5e3,true,null,{"y":-0.1}]},"values":[["5","l",{}]]}],"other":1}`,
		`{a="vé"} 5 "l"`},
	{`{"streams":[{"stream":{"a":"1"},"values":[["5","l",{"k":"1","k":"2"}]]}]}`,
		`{a="1"} 5 "l" {k="2"}`},
	{`{"str\u0065ams":[{"stream":{"a":"1"},"values":[["5","l"]]}]}`,
		`{a="1"} 5 "l"`},
	{"{\"streams\":[{\"stream\":{\"a\":\"1\"},\"values\":[[\"5\",\"raw \xff bytes\"]]}]}",
		`{a="1"} 5 "raw \xff bytes"`},
}

// jsonBad are invalid JSON push bodies and a part of the error they must
// give; they also seed FuzzDecodeJSON.
var jsonBad = []struct{ body, want string }{
	{``, `invalid push payload: malformed JSON at offset 0: expected object, found end of input`},
	{`[]`, `expected object, found array`},
	{`{"streams":[}`, `malformed JSON streams[0] at offset 12: expected object, found '}'`},
	{`{"streams":{}}`, `expected array, found object`},
	{`{"streams":[{"stream":{"a":"1"},"values":[[1700000000000000000,"x"]]}]}`,
		`invalid push payload: streams[0].values[0][0] at offset 43: timestamp must be a string of Unix nanoseconds, found number`},
	{`{"streams":[{"stream":{"a":"1"},"values":[["17e9","x"]]}]}`, `bad timestamp "17e9"`},
	{`{"streams":[{"stream":{"a":"1"},"values":[["-1","x"]]}]}`, `bad timestamp "-1"`},
	{`{"streams":[{"stream":{"a":"1"},"values":[["","x"]]}]}`, `bad timestamp ""`},
	{`{"streams":[{"stream":{"a":"1"},"values":[["9223372036854775808","x"]]}]}`, `bad timestamp`},
	{`{"streams":[{"stream":{"a":"1"},"values":[["1"]]}]}`, `the line is missing`},
	{`{"streams":[{"stream":{"a":"1"},"values":[["1",2]]}]}`, `line must be a string, found number`},
	{`{"streams":[{"stream":{"a":"1"},"values":[["1","x",{"k":1}]]}]}`, `value of "k" must be a string, found number`},
	{`{"streams":[{"stream":{"a":"1"},"values":[["1","x",{"":"v"}]]}]}`, `empty structured metadata name`},
	{"{\"streams\":[{\"stream\":{\"a\":\"1\"},\"values\":[[\"1\",\"x\",{\"\xfe\":\"v\"}]]}]}", `structured metadata name is not valid UTF-8`},
	{"{\"streams\":[{\"stream\":{\"a\":\"1\"},\"values\":[[\"1\",\"x\",{\"k\":\"\xfe\"}]]}]}", `value of "k" is not valid UTF-8`},
	{`{"streams":[{"stream":{"a":"1"},"values":[["1","x",[]]]}]}`, `structured metadata must be an object, found array`},
	{`{"streams":[{"stream":{"a":"1"},"values":[["1","x",{},"y"]]}]}`, `value has more than 3 elements`},
	{`{"streams":[{"stream":{},"values":[["1","x"]]}]}`, `empty stream labels`},
	{`{"streams":[{"values":[["1","x"]]}]}`, `invalid push payload: streams[0] at offset 12: empty stream labels`},
	{`{"streams":[{"stream":{"a":""},"values":[]}]}`, `empty stream labels`},
	{`{"streams":[{"stream":{"a-b":"1"},"values":[]}]}`, `streams[0].stream at offset 23: bad stream labels: invalid label name "a-b"`},
	{`{"streams":[{"stream":{"1a":"1"},"values":[]}]}`, `invalid label name "1a"`},
	{`{"streams":[{"stream":{"a":"1","a":"2"},"values":[]}]}`, `streams[0].stream at offset 22: bad stream labels: bad label syntax: duplicate label name "a"`},
	{`{"streams":[{"stream":{"a":1},"values":[]}]}`, `value of "a" must be a string, found number`},
	{"{\"streams\":[{\"stream\":{\"a\":\"\xff\"},\"values\":[]}]}", `value of "a" is not valid UTF-8`},
	{`{"streams":[{"stream":{"a":"1"},"values":[["1","x"],]}]}`, `malformed JSON streams[0].values[1] at offset 52: expected array, found ']'`},
	{`{"streams":[{"stream":{"a":"1"},"values":{}}]}`, `malformed JSON streams[0].values at offset 41: expected array, found object`},
	{`{"streams":[{"stream":{"a":"1"},"values":[["1","x"] 5]}]}`, `malformed JSON streams[0].values[0] at offset 52: expected ',' or ']', found number`},
	{`{"streams":[{"stream":{"a":"1"},"values":[["1","x"]]}]} x`, `expected end of input, found 'x'`},
	{`{"streams":[{"stream":{"a":"1"},"values":[["1","x\q"]]}]}`, `invalid escape '\q' in string`},
	{`{"streams":[{"stream":{"a":"1"},"values":[["1","x\u12"]]}]}`, `invalid \u escape`},
	{"{\"streams\":[{\"stream\":{\"a\":\"1\"},\"values\":[[\"1\",\"x\ny\"]]}]}", `control character 0x0a in string`},
	{`{"streams":[{"stream":{"a":"1"},"values":[["1","x`, `unterminated string`},
	{`{"streams":[{"stream":{"a":"1"} "values":[]}]}`, `expected ',' or '}', found string`},
	{`{"streams":[{"stream":{"a":"1"},"x":01,"values":[]}]}`, `expected ',' or '}', found number`},
	{`{"streams":[{"stream":{"a":"1"},"x":-,"values":[]}]}`, `expected digit`},
	{`{"streams":[{"stream":{"a":"1"},"x":1.,"values":[]}]}`, `expected digit after decimal point`},
	{`{"streams":[{"stream":{"a":"1"},"x":1e,"values":[]}]}`, `expected digit in exponent`},
	{`{"streams":[{"stream":{"a":"1"},"x":nul,"values":[]}]}`, `expected value, found 'n'`},
	{`{"a":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`, `nesting too deep`},
	{`{"streams" []}`, `expected ':' after object key`},
	{`{streams:[]}`, `expected string, found 's'`},
}

func TestDecodeJSON(t *testing.T) {
	for _, c := range jsonGood {
		streams, err := DecodeJSON([]byte(c.body))
		if err != nil {
			t.Errorf("DecodeJSON(%s): %v", c.body, err)
			continue
		}
		if got := renderStreams(streams); got != c.want {
			t.Errorf("DecodeJSON(%s)\n got %s\nwant %s", c.body, got, c.want)
		}
		for _, s := range streams {
			for _, e := range s.Entries {
				if !e.Labels.Equal(s.Labels) {
					t.Errorf("DecodeJSON(%s): entry labels %s; want %s", c.body, e.Labels, s.Labels)
				}
			}
		}
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	for _, c := range jsonBad {
		_, err := DecodeJSON([]byte(c.body))
		if err == nil {
			t.Errorf("DecodeJSON(%s): no error; want %q", c.body, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("DecodeJSON(%s): error %q; want it to contain %q", c.body, err, c.want)
		}
		if !errors.Is(err, ErrInvalidPayload) {
			t.Errorf("DecodeJSON(%s): error %q does not wrap ErrInvalidPayload", c.body, err)
		}
	}
}

func TestDecodeJSONInvalidLabelIsDetectable(t *testing.T) {
	_, err := DecodeJSON([]byte(`{"streams":[{"stream":{"a.b":"1"},"values":[]}]}`))
	var il *logmodel.ErrInvalidLabel
	if !errors.As(err, &il) || il.Name != "a.b" {
		t.Fatalf("got %v; want a *logmodel.ErrInvalidLabel for a.b", err)
	}
}

// TestDecodeJSONAgreesWithStdlib checks the hand-written decoder against
// encoding/json on a realistic payload.
func TestDecodeJSONAgreesWithStdlib(t *testing.T) {
	body := benchJSON(t)
	streams, err := DecodeJSON(body)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := renderStreams(streams), renderStreams(stdlibDecode(t, body)); got != want {
		t.Fatalf("DecodeJSON and encoding/json disagree:\n got %.300s\nwant %.300s", got, want)
	}
}

// stdlibDecode decodes a push body with encoding/json, for comparisons.
func stdlibDecode(t testing.TB, body []byte) []Stream {
	t.Helper()
	var req struct {
		Streams []struct {
			Stream map[string]string `json:"stream"`
			Values [][]json.RawMessage
		} `json:"streams"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	var out []Stream
	for _, s := range req.Streams {
		st := Stream{Labels: logmodel.NewLabels(s.Stream)}
		for _, v := range s.Values {
			var ts, line string
			var md map[string]string
			if err := json.Unmarshal(v[0], &ts); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(v[1], &line); err != nil {
				t.Fatal(err)
			}
			if len(v) > 2 {
				if err := json.Unmarshal(v[2], &md); err != nil {
					t.Fatal(err)
				}
			}
			n, ok := parseNanos([]byte(ts))
			if !ok {
				t.Fatalf("bad timestamp %q", ts)
			}
			e := logmodel.Entry{Labels: st.Labels, Timestamp: n, Line: []byte(line)}
			if len(md) > 0 {
				e.Metadata = logmodel.NewLabels(md)
			}
			st.Entries = append(st.Entries, e)
		}
		out = append(out, st)
	}
	return out
}

func BenchmarkDecodeJSON(b *testing.B) {
	body := benchJSON(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeJSONStdlib is the encoding/json baseline for
// BenchmarkDecodeJSON.
func BenchmarkDecodeJSONStdlib(b *testing.B) {
	body := benchJSON(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		stdlibDecode(b, body)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, c := range jsonGood {
		f.Add([]byte(c.body))
	}
	for _, c := range jsonBad {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		streams, err := DecodeJSON(body)
		if err != nil {
			if !errors.Is(err, ErrInvalidPayload) {
				t.Fatalf("error %v does not wrap ErrInvalidPayload", err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("DecodeJSON accepted invalid JSON %q", body)
		}
		checkStreams(t, streams)
		for _, s := range streams {
			for _, e := range s.Entries {
				if !utf8.Valid(e.Line) {
					return // encoding/json would not round-trip the line
				}
			}
		}
		again, err := DecodeJSON(encodeJSON(t, streams))
		if err != nil {
			t.Fatalf("decoding re-encoded %q: %v", body, err)
		}
		if got, want := renderStreams(again), renderStreams(streams); got != want {
			t.Fatalf("round trip of %q:\n got %s\nwant %s", body, got, want)
		}
	})
}

// encodeJSON writes streams as a JSON push body with encoding/json.
func encodeJSON(t testing.TB, streams []Stream) []byte {
	t.Helper()
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values [][]any           `json:"values"`
	}
	var req struct {
		Streams []stream `json:"streams"`
	}
	for _, s := range streams {
		js := stream{Stream: s.Labels.Map(), Values: [][]any{}}
		for _, e := range s.Entries {
			v := []any{strconv.FormatInt(e.Timestamp, 10), string(e.Line)}
			if len(e.Metadata) > 0 {
				v = append(v, e.Metadata.Map())
			}
			js.Values = append(js.Values, v)
		}
		req.Streams = append(req.Streams, js)
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// checkStreams checks the invariants of decoded streams.
func checkStreams(t *testing.T, streams []Stream) {
	t.Helper()
	for _, s := range streams {
		if len(s.Labels) == 0 {
			t.Fatalf("stream without labels")
		}
		if !slices.IsSortedFunc(s.Labels, func(a, b logmodel.Label) int { return strings.Compare(a.Name, b.Name) }) {
			t.Fatalf("labels %s not sorted", s.Labels)
		}
		for i, l := range s.Labels {
			if !logmodel.ValidLabelName(l.Name) || l.Value == "" || !utf8.ValidString(l.Value) {
				t.Fatalf("bad label %q=%q", l.Name, l.Value)
			}
			if i > 0 && s.Labels[i-1].Name == l.Name {
				t.Fatalf("repeated label %q", l.Name)
			}
		}
		for _, e := range s.Entries {
			if e.Timestamp < 0 {
				t.Fatalf("negative timestamp %d", e.Timestamp)
			}
			for i, m := range e.Metadata {
				if m.Name == "" || (i > 0 && e.Metadata[i-1].Name >= m.Name) {
					t.Fatalf("bad metadata %s", e.Metadata)
				}
			}
		}
	}
}
