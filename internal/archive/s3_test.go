package archive_test

import (
	"net/netip"
	"testing"

	"github.com/kubelog/kubelog/internal/archive"
	"github.com/kubelog/kubelog/internal/egress"
	"github.com/kubelog/kubelog/test/e2e/testenv"
)

// TestS3BlobStore checks the BlobStore contract on a bucket of a real MinIO
// server, which it starts.
func TestS3BlobStore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MinIO")
	}
	testenv.SkipIfDisabled(t)
	srv, err := testenv.StartS3(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	d := archive.Destination{Endpoint: srv.Endpoint, Region: srv.Region, Bucket: "contract", AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, PathStyle: true}
	policy := egress.DefaultPolicy()
	policy.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	s, err := archive.NewS3BlobStore(d, policy)
	if err != nil {
		t.Fatal(err)
	}
	if err := archive.MakeBucket(t.Context(), s, d); err != nil {
		t.Fatal(err)
	}
	archive.CheckBlobStoreContract(t, s)
}
