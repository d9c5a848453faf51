package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/snappy"
)

// TestProtobufPushReusesNoLiveBuffer pushes protobuf bodies one after the
// other, each decompressed into a pooled buffer that the next may reuse,
// while a live tail watches: the tail and the store must both hold every
// line as sent, none overwritten by a later request.
func TestProtobufPushReusesNoLiveBuffer(t *testing.T) {
	e := newEnv(t, noLimits())
	ctx, c := dialLokiTail(t, e, url.Values{
		"query": {`{app="p"}`}, "limit": {"1000"}, "start": {strconv.FormatInt(time.Now().Add(-time.Minute).UnixNano(), 10)},
	})
	if _, _, err := c.Read(ctx); err != nil { // the initial, empty frame
		t.Fatal(err)
	}
	base := time.Now().Add(-10 * time.Second)
	var want []string
	for req := range 5 {
		s := push.Stream{Labels: `{app="p"}`}
		for i := range 40 {
			line := fmt.Sprintf("request %d line %02d %s", req, i, strings.Repeat(strconv.Itoa(req), 20))
			s.Entries = append(s.Entries, push.Entry{Timestamp: base.Add(time.Duration(req*40+i) * time.Millisecond), Line: line})
			want = append(want, line)
		}
		raw, err := (&push.PushRequest{Streams: []push.Stream{s}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if code, b, _ := e.do("a-write", "POST", "/loki/api/v1/push", snappy.Encode(nil, raw), "Content-Type", "application/x-protobuf"); code != http.StatusNoContent {
			t.Fatalf("push %d: %d %s", req, code, b)
		}
	}
	var tailed []string
	for len(tailed) < len(want) {
		_, msg, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("after %d lines: %v", len(tailed), err)
		}
		var f lokiFrame
		if err := json.Unmarshal(msg, &f); err != nil {
			t.Fatal(err)
		}
		for _, s := range f.Streams {
			for _, v := range s.Values {
				tailed = append(tailed, v[1])
			}
		}
	}
	if got, w := strings.Join(tailed, "\n"), strings.Join(want, "\n"); got != w {
		t.Fatalf("tail received\n%s\nwant\n%s", got, w)
	}
	code, b := e.loki("/loki/api/v1/query_range", url.Values{"query": {`{app="p"}`}, "limit": {"1000"}, "direction": {"forward"},
		"start": {strconv.FormatInt(base.Add(-time.Second).UnixNano(), 10)}, "end": {strconv.FormatInt(time.Now().UnixNano(), 10)}})
	var r struct {
		Data struct {
			Result []struct {
				Values [][2]string `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if code != http.StatusOK || json.Unmarshal(b, &r) != nil || len(r.Data.Result) != 1 {
		t.Fatalf("query: %d %s", code, b)
	}
	var stored []string
	for _, v := range r.Data.Result[0].Values {
		stored = append(stored, v[1])
	}
	if got, w := strings.Join(stored, "\n"), strings.Join(want, "\n"); got != w {
		t.Fatalf("stored\n%s\nwant\n%s", got, w)
	}
}
