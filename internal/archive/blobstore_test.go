package archive

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// testBlobStore checks the BlobStore contract on bs, which must be empty.
func testBlobStore(t *testing.T, bs BlobStore) {
	ctx := t.Context()
	put := func(key, body string) {
		t.Helper()
		info, err := bs.Put(ctx, key, strings.NewReader(body), int64(len(body)), PutOptions{ContentType: "text/plain", Metadata: map[string]string{"Lines": "1"}})
		if err != nil {
			t.Fatalf("Put(%s): %v", key, err)
		}
		if info.Size != int64(len(body)) || info.ETag != md5Hex([]byte(body)) {
			t.Fatalf("Put(%s): got %+v; want size %d and ETag %s", key, info, len(body), md5Hex([]byte(body)))
		}
	}
	get := func(key string) (string, error) {
		t.Helper()
		rc, err := bs.Get(ctx, key)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}
	list := func(prefix string, want ...string) {
		t.Helper()
		var got []string
		for info, err := range bs.List(ctx, prefix) {
			if err != nil {
				t.Fatalf("List(%q): %v", prefix, err)
			}
			body, err := get(info.Key)
			if err != nil {
				t.Fatal(err)
			}
			if info.Size != int64(len(body)) || info.ETag != md5Hex([]byte(body)) {
				t.Fatalf("List(%q): %s is %+v; want size %d and ETag %s", prefix, info.Key, info, len(body), md5Hex([]byte(body)))
			}
			got = append(got, info.Key)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("List(%q): got %q; want %q", prefix, got, want)
		}
	}
	notFound := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrBlobNotFound) {
			t.Fatalf("%s of a missing key: got %v; want ErrBlobNotFound", what, err)
		}
	}

	_, err := bs.Stat(ctx, "p/missing")
	notFound("Stat", err)
	_, err = get("p/missing")
	notFound("Get", err)
	if err := bs.Remove(ctx, "p/missing"); err != nil {
		t.Fatalf("Remove of a missing key: %v", err)
	}
	list("")

	for _, k := range []string{"p/b", "p/a/2", "p/a/10", "q/x", "p/a/1", "o"} {
		put(k, "body of "+k)
	}
	put("p/b", "replaced")
	if got, err := get("p/b"); err != nil || got != "replaced" {
		t.Fatalf("Get after a second Put: got %q, %v; want %q", got, err, "replaced")
	}
	info, err := bs.Stat(ctx, "p/a/10")
	if err != nil || info.Size != int64(len("body of p/a/10")) || info.ETag != md5Hex([]byte("body of p/a/10")) {
		t.Fatalf("Stat: got %+v, %v", info, err)
	}
	list("p/", "p/a/1", "p/a/10", "p/a/2", "p/b")
	list("", "o", "p/a/1", "p/a/10", "p/a/2", "p/b", "q/x")
	list("p/a/1", "p/a/1", "p/a/10")
	list("r")
	n := 0
	for range bs.List(ctx, "") {
		n++
		break
	}
	if n != 1 {
		t.Fatalf("a listing left after one key yielded %d", n)
	}

	if err := bs.Remove(ctx, "p/a/10"); err != nil {
		t.Fatal(err)
	}
	_, err = bs.Stat(ctx, "p/a/10")
	notFound("Stat after Remove", err)
	list("p/a/", "p/a/1", "p/a/2")

	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	if _, err := bs.Put(ctx, "big", bytes.NewReader(big), int64(len(big)), PutOptions{ETagChecked: true}); err != nil {
		t.Fatal(err)
	}
	if got, err := get("big"); err != nil || got != string(big) {
		t.Fatalf("Get of 1 MiB: %d bytes, %v", len(got), err)
	}
}

func TestMemBlobs(t *testing.T) {
	testBlobStore(t, newMemBlobs())
}
