package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// multipartETag is an ETag of the form S3 gives a multipart upload: not the
// MD5 of the body, so that a check of the object must read it back.
func multipartETag(b []byte) string {
	return md5Hex([]byte(md5Hex(b))) + "-2"
}

// flipLast inverts the last byte of b: the same size, other bytes.
func flipLast(b []byte) []byte {
	b[len(b)-1] ^= 0xff
	return b
}

func dropLast(b []byte) []byte { return b[:len(b)-1] }

var (
	errStat = errors.New("503 Slow Down")
	errGet  = errors.New("connection reset by peer")
)

// getBlobs is the fake with another Get.
type getBlobs struct {
	*memBlobs
	get func(key string) (io.ReadCloser, error)
}

func (s getBlobs) Get(ctx context.Context, key string) (io.ReadCloser, error) { return s.get(key) }

// TestVerifyObject checks one object in the fake bucket against the size
// and MD5 written: from its ETag when that is the MD5, else by reading it
// back; whatever differs or fails is named with the key.
func TestVerifyObject(t *testing.T) {
	const key = "t1/obj"
	body := []byte("a body written to the bucket")
	sum := md5Hex(body)
	for _, tc := range []struct {
		name string
		// etag is the fake's ETag of a body; nil is its MD5.
		etag func([]byte) string
		// after changes the bucket once the body is in it.
		after func(*memBlobs)
		// get, if set, replaces the fake's Get.
		get func(key string) (io.ReadCloser, error)
		// want is the error; "" is none. It wraps is, where set.
		want string
		is   error
	}{
		{name: "MD5 ETag"},
		{name: "multipart ETag read back", etag: multipartETag},
		{name: "bytes changed", after: func(s *memBlobs) { s.change(key, flipLast) },
			want: fmt.Sprintf("verify %s: checksum %s in the bucket, %s written", key, md5Hex(flipLast(bytes.Clone(body))), sum)},
		{name: "bytes changed, multipart ETag", etag: multipartETag, after: func(s *memBlobs) { s.change(key, flipLast) },
			want: fmt.Sprintf("verify %s: checksum %s in the bucket, %s written", key, md5Hex(flipLast(bytes.Clone(body))), sum)},
		{name: "truncated", after: func(s *memBlobs) { s.change(key, dropLast) },
			want: fmt.Sprintf("verify %s: the bucket holds %d bytes, %d were written", key, len(body)-1, len(body))},
		{name: "removed", after: func(s *memBlobs) { _ = s.Remove(t.Context(), key) },
			want: fmt.Sprintf("verify %s: %s: %v", key, key, ErrBlobNotFound), is: ErrBlobNotFound},
		{name: "Stat fails", after: func(s *memBlobs) { s.onStat = func(string) error { return errStat } },
			want: fmt.Sprintf("verify %s: %v", key, errStat), is: errStat},
		{name: "Get fails", etag: multipartETag, get: func(string) (io.ReadCloser, error) { return nil, errGet },
			want: fmt.Sprintf("verify %s: %v", key, errGet), is: errGet},
		// S3 sends a Get when its reader is first read.
		{name: "read fails", etag: multipartETag, get: func(string) (io.ReadCloser, error) { return io.NopCloser(iotest.ErrReader(errGet)), nil },
			want: fmt.Sprintf("verify %s: %v", key, errGet), is: errGet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newMemBlobs()
			s.etag = tc.etag
			if _, err := s.Put(t.Context(), key, strings.NewReader(string(body)), int64(len(body)), PutOptions{}); err != nil {
				t.Fatal(err)
			}
			if tc.after != nil {
				tc.after(s)
			}
			var bs BlobStore = s
			if tc.get != nil {
				bs = getBlobs{memBlobs: s, get: tc.get}
			}
			err := verifyObject(t.Context(), bs, key, int64(len(body)), sum)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got %v; want the object verified", err)
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v; want %s", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("got %v; want it to wrap %v", err, tc.is)
			}
		})
	}
}

// victimPrefix starts the key of the object that the cases of
// TestDeleteAfterArchive change, drop or fail to stat: pay/api-1's of 09:00.
const victimPrefix = testTenant + "/c1/pay/api-1/app/2026/11/21/09/"

// TestDeleteAfterArchive runs jobs of a policy that deletes what it
// archived. The local entries go only once every object of the job is
// verified in the bucket: an object changed, truncated or lost after its
// upload, or one whose Stat fails, fails the job with an error naming it,
// and deletes nothing. With multipart ETags, which are not MD5s, the check
// reads the objects back, at the upload and before the delete.
func TestDeleteAfterArchive(t *testing.T) {
	start, end := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC), time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		multipart bool
		// afterPut is the fake's afterPut hook: what happens to the bucket
		// after a Put.
		afterPut func(s *memBlobs, key string)
		onStat   func(key string) error
		// want is the job's error, of the victim's key and its body in the
		// bucket and MD5 written; "" is a job that succeeds and deletes.
		want func(key string, stored []byte, written string) string
		// uploadFails says the error is the upload's, before the object
		// is indexed and the manifest written.
		uploadFails bool
	}{
		{name: "verified"},
		{name: "verified by reading back multipart ETags", multipart: true},
		{name: "bytes changed after the upload",
			afterPut: func(s *memBlobs, key string) {
				if strings.HasPrefix(key, victimPrefix) {
					s.change(key, flipLast)
				}
			},
			want: func(key string, stored []byte, written string) string {
				return fmt.Sprintf("verification before deleting local data: verify %s: checksum %s in the bucket, %s written", key, md5Hex(stored), written)
			}},
		{name: "truncated after the upload",
			afterPut: func(s *memBlobs, key string) {
				if strings.HasPrefix(key, victimPrefix) {
					s.change(key, dropLast)
				}
			},
			want: func(key string, stored []byte, written string) string {
				return fmt.Sprintf("verification before deleting local data: verify %s: the bucket holds %d bytes, %d were written", key, len(stored), len(stored)+1)
			}},
		{name: "lost after the upload",
			afterPut: func(s *memBlobs, key string) {
				if strings.HasPrefix(key, victimPrefix) {
					_ = s.Remove(context.Background(), key)
				}
			},
			want: func(key string, stored []byte, written string) string {
				return fmt.Sprintf("verification before deleting local data: verify %s: %s: %v", key, key, ErrBlobNotFound)
			}},
		{name: "Stat fails",
			onStat: func(key string) error {
				if strings.HasPrefix(key, victimPrefix) {
					return errStat
				}
				return nil
			},
			want: func(key string, stored []byte, written string) string {
				return fmt.Sprintf("verification before deleting local data: verify %s: %v", key, errStat)
			}},
		{name: "multipart ETag, bytes changed after the manifest", multipart: true,
			afterPut: func(s *memBlobs, key string) {
				if strings.Contains(key, "/_manifests/") {
					s.change(s.keys(victimPrefix)[0], flipLast)
				}
			},
			want: func(key string, stored []byte, written string) string {
				return fmt.Sprintf("verification before deleting local data: verify %s: checksum %s in the bucket, %s written", key, md5Hex(stored), written)
			}},
		{name: "multipart ETag, bytes changed in the upload", multipart: true, uploadFails: true,
			afterPut: func(s *memBlobs, key string) {
				if strings.HasPrefix(key, victimPrefix) {
					s.change(key, flipLast)
				}
			},
			// The index has not the MD5 written: flipLast undoes itself.
			want: func(key string, stored []byte, _ string) string {
				return fmt.Sprintf("verify %s: checksum %s in the bucket, %s written", key, md5Hex(stored), md5Hex(flipLast(bytes.Clone(stored))))
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newJobEnv(t)
			if tc.multipart {
				e.blobs.etag = multipartETag
			}
			e.blobs.onStat = tc.onStat
			if tc.afterPut != nil {
				e.blobs.afterPut = func(key string) { tc.afterPut(e.blobs, key) }
			}
			m := e.manager()
			defer m.Close()
			ctx := t.Context()
			n := e.fill(20)
			p := e.policy(m, true)
			later := len(e.local(p, end, end.Add(time.Hour)))
			j, err := m.StartJob(ctx, testTenant, p.ID, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			j = waitJob(t, m, j.ID)
			objs, _, err := m.Index().List(ctx, Filter{Tenant: testTenant, JobID: j.ID})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(e.local(p, end, end.Add(time.Hour))); got != later {
				t.Fatalf("entries of 11:00, after the job's range: got %d; want %d", got, later)
			}
			if tc.want == nil {
				if j.Status != StatusSucceeded || j.Error != "" || j.DeletedEntries != int64(n) {
					t.Fatalf("job: got %s (%q), %d entries deleted; want succeeded, %d deleted", j.Status, j.Error, j.DeletedEntries, n)
				}
				if got := len(e.local(p, start, end)); got != 0 {
					t.Fatalf("local entries of the archived range: got %d; want none", got)
				}
				if len(objs) != 6 {
					t.Fatalf("index: got %d objects; want 6, of 2 pods in 3 hours", len(objs))
				}
				for _, o := range objs {
					if stored, ok := e.blobs.object(o.Key); !ok || md5Hex(stored.body) != o.ETag {
						t.Fatalf("%s: in the bucket %v, MD5 %s; want MD5 %s", o.Key, ok, md5Hex(stored.body), o.ETag)
					}
				}
				if p, err = m.Policies().Get(ctx, testTenant, p.ID); err != nil || !p.ArchivedUntil.Equal(end) {
					t.Fatalf("policy: archived until %s (%v); want %s", p.ArchivedUntil, err, end)
				}
				return
			}

			victims := e.blobs.keys(victimPrefix)
			var key string
			var stored []byte
			if len(victims) == 1 {
				key = victims[0]
				o, _ := e.blobs.object(key)
				stored = o.body
			}
			var written string
			indexed := false
			for _, o := range objs {
				if strings.HasPrefix(o.Key, victimPrefix) {
					key, written, indexed = o.Key, o.ETag, true
				}
			}
			if key == "" {
				t.Fatalf("the victim under %s is neither in the bucket nor in the index", victimPrefix)
			}
			if want := tc.want(key, stored, written); j.Status != StatusFailed || j.Error != want {
				t.Fatalf("job: got %s with error %q; want failed with %q", j.Status, j.Error, want)
			}
			if indexed == tc.uploadFails {
				t.Fatalf("victim indexed %v; want %v", indexed, !tc.uploadFails)
			}
			if _, ok := e.blobs.object(ManifestKey("", testTenant, j.ID)); ok == tc.uploadFails {
				t.Fatalf("manifest in the bucket %v; want %v", ok, !tc.uploadFails)
			}
			if got := len(e.local(p, start, end)); j.DeletedEntries != 0 || got != n {
				t.Fatalf("a failed verification deleted local data: %d entries reported deleted, %d of %d left", j.DeletedEntries, got, n)
			}
			if p, err = m.Policies().Get(ctx, testTenant, p.ID); err != nil || !p.ArchivedUntil.IsZero() {
				t.Fatalf("a failed job moved the policy on to %s (%v)", p.ArchivedUntil, err)
			}
		})
	}
}
