package logql

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// TestJSONParserErrors pins what the json and unpack stages accept and the
// __error_details__ they set: both are visible to clients.
func TestJSONParserErrors(t *testing.T) {
	f := func(pipeline, line, want string) {
		t.Helper()
		if got := runPipeline(t, pipeline, line); got != want {
			t.Errorf("%s on %q:\ngot  %s\nwant %s", pipeline, line, got, want)
		}
	}
	f(`| json`, `{"a":`, `{__error__="JSONParserErr", __error_details__="invalid JSON: unexpected value at offset 5", a="b"} {"a":`)
	f(`| json`, ``, `{__error__="JSONParserErr", __error_details__="invalid JSON: expected '{' at offset 0", a="b"} `)
	f(`| json`, `[1]`, `{__error__="JSONParserErr", __error_details__="invalid JSON: expected '{' at offset 0", a="b"} [1]`)
	f(`| json`, `{"a":1}x`, `{__error__="JSONParserErr", __error_details__="invalid JSON: unexpected data after the object at offset 7", a="b", a_extracted="1"} {"a":1}x`)
	f(`| json`, `{"a":1,}`, `{__error__="JSONParserErr", __error_details__="invalid JSON: expected '\"' at offset 7", a="b", a_extracted="1"} {"a":1,}`)
	f(`| json`, `{"a" 1}`, `{__error__="JSONParserErr", __error_details__="invalid JSON: expected ':' at offset 5", a="b"} {"a" 1}`)
	f(`| json`, `{"a":1 "b":2}`, `{__error__="JSONParserErr", __error_details__="invalid JSON: expected ',' or '}' at offset 7", a="b", a_extracted="1"} {"a":1 "b":2}`)
	f(`| json`, `{"a":"x\qy"}`, `{__error__="JSONParserErr", __error_details__="invalid JSON: invalid escape at offset 11", a="b"} {"a":"x\qy"}`)
	f(`| json`, `{"a":"x\u12"}`, `{__error__="JSONParserErr", __error_details__="invalid JSON: invalid escape at offset 12", a="b"} {"a":"x\u12"}`)
	f(`| json`, "{\"a\":\"tab\traw\"}", "{a=\"b\", a_extracted=\"tab\\traw\"} {\"a\":\"tab\traw\"}")
	f(`| json`, `{"a":01}`, `{a="b", a_extracted="01"} {"a":01}`)
	f(`| json`, `{"a":1.}`, `{a="b", a_extracted="1."} {"a":1.}`)
	f(`| json`, `{"a":-inf}`, `{a="b", a_extracted="-inf"} {"a":-inf}`)
	f(`| json`, `{"a":truex}`, `{__error__="JSONParserErr", __error_details__="invalid JSON: unexpected value at offset 10", a="b"} {"a":truex}`)
	f(`| json`, `{"a":tru}`, `{__error__="JSONParserErr", __error_details__="invalid JSON: unexpected value at offset 8", a="b"} {"a":tru}`)
	f(`| json`, `{"a":[1,"\q"],"b":{"c":"\q"}}`, `{__error__="JSONParserErr", __error_details__="invalid JSON: invalid escape at offset 27", a="b"} {"a":[1,"\q"],"b":{"c":"\q"}}`)
	f(`| json`, `{"a":"unterminated`, `{__error__="JSONParserErr", __error_details__="invalid JSON: unterminated string at offset 18", a="b"} {"a":"unterminated`)
	f(`| json`, `{"a":"x\`, `{__error__="JSONParserErr", __error_details__="invalid JSON: unterminated string at offset 9", a="b"} {"a":"x\`)
	f(`| json`, `{"k\u00e9y":"v"}`, `{a="b", k__y="v"} {"k\u00e9y":"v"}`)
	f(`| json`, `{"a":"\ud83d\ude00 \ud800x \udc00"}`, `{a="b", a_extracted="😀 �x �"} {"a":"\ud83d\ude00 \ud800x \udc00"}`)
	deepArray := `{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "}"
	f(`| json`, deepArray, `{__error__="JSONParserErr", __error_details__="invalid JSON: nested too deeply at offset 69", a="b"} `+deepArray)
	deepObject := strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 70)
	f(`| json`, deepObject, `{__error__="JSONParserErr", __error_details__="invalid JSON: nested too deeply at offset 325", a="b"} `+deepObject)
	f(`| json`, "{\"a\":1}\x00", "{a=\"b\", a_extracted=\"1\"} {\"a\":1}\x00")
	f(`| json`, ` {"a":null} `, `{a="b", a_extracted=""}  {"a":null} `)
	f(`| json`, "{\"a\":\"x\x01y\",\"b\x02\":\"z\"}", "{a=\"b\", a_extracted=\"x\\x01y\", b_=\"z\"} {\"a\":\"x\x01y\",\"b\x02\":\"z\"}")
	f(`| json x="a.b"`, `{"a":{"b":"v"}} trailing`, `{a="b", x="v"} {"a":{"b":"v"}} trailing`)
	f(`| json x="a.b"`, `{"z":"\q","a":{"b":1}}`, `{a="b", x="1"} {"z":"\q","a":{"b":1}}`)
	f(`| json x="a.b"`, `[1]`, `{a="b"} [1]`)
	f(`| json x="a.b"`, `x`, `{__error__="JSONParserErr", __error_details__="invalid JSON: unexpected value at offset 0", a="b"} x`)
	f(`| json x="a.b"`, `{"a":`, `{__error__="JSONParserErr", __error_details__="invalid JSON: unexpected value at offset 5", a="b"} {"a":`)
	f(`| json x="l[2]"`, `{"l":[1,2]}`, `{a="b"} {"l":[1,2]}`)
	f(`| json x="a"`, `{"a":{"b":[1, 2]}}`, `{a="b", x="{\"b\":[1, 2]}"} {"a":{"b":[1, 2]}}`)
	f(`| json x="a"`, `{"a":"\u00e9\q"}`, `{__error__="JSONParserErr", __error_details__="invalid JSON: invalid escape at offset 15", a="b"} {"a":"\u00e9\q"}`)
	f(`| json x="a"`, `{"a":1e}`, `{__error__="JSONParserErr", __error_details__="invalid JSON: invalid number \"1e\" at offset 7", a="b"} {"a":1e}`)
	f(`| unpack`, `{"_entry":"in\nner","a":"x\u00e9"}`, "{a=\"b\", a_extracted=\"xé\"} in\nner")
	f(`| unpack`, `{"a":1,"b":"c"}`, `{a="b", b="c"} {"a":1,"b":"c"}`)
	f(`| unpack`, `{"a":"\q"}`, `{__error__="JSONParserErr", __error_details__="invalid JSON: invalid escape at offset 9", a="b"} {"a":"\q"}`)
	f(`| unpack`, `{"a":`, `{__error__="JSONParserErr", __error_details__="invalid JSON: unexpected value at offset 5", a="b"} {"a":`)
	f(`| unpack`, `{"a":"b"} x`, `{__error__="JSONParserErr", __error_details__="invalid JSON: unexpected data after the object at offset 10", a="b", a_extracted="b"} {"a":"b"} x`)
	f(`| unpack`, `not json`, `{__error__="JSONParserErr", __error_details__="invalid JSON: expected '{' at offset 0", a="b"} not json`)
	f(`| unpack`, "{\"a\":[1,{\"b\":\"\x01\"}],\"c\":\"d\"}", "{a=\"b\", c=\"d\"} {\"a\":[1,{\"b\":\"\x01\"}],\"c\":\"d\"}")
}

// BenchmarkJSONParser runs the json and unpack stages over structured log
// lines of the shape a Kubernetes application writes.
func BenchmarkJSONParser(b *testing.B) {
	lines := make([][]byte, 1000)
	var size int64
	for i := range lines {
		lines[i] = fmt.Appendf(nil, `{"ts":"2024-05-01T12:00:%02d.%06dZ","level":"info","caller":"server/handler.go:%d","msg":"request served \"GET /api/v1/items\"","http":{"method":"GET","status":%d,"path":"/api/v1/items/%d","duration_ms":%d.5},"tags":["a","b"],"ok":true,"trace":null}`,
			i%60, i, i%300, 200+i%5, i, i%97)
		size += int64(len(lines[i]))
	}
	for _, pipeline := range []string{`| json`, `| json level, status="http.status", tag="tags[1]"`, `| unpack`} {
		b.Run(pipeline, func(b *testing.B) {
			e := mustParse(b, `{a="b"} `+pipeline).(*LogExpr)
			p, err := newPipeline(e.Pipeline, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			ls := logmodel.FromPairs("a", "b")
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				for _, l := range lines {
					if _, ok := p.run(1, l, ls, nil); !ok {
						b.Fatal("dropped")
					}
				}
			}
		})
	}
}
