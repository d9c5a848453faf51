package archive

import (
	"context"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/kubelog/kubelog/internal/egress"
)

// What the external tests (package archive_test, which may import the
// end-to-end harness, itself above this package) need of the internals.

// NewS3BlobStore returns the BlobStore of a destination.
func NewS3BlobStore(d Destination, policy egress.Policy) (BlobStore, error) { return newS3Store(d, policy) }

// MakeBucket creates the destination's bucket through an S3 BlobStore.
func MakeBucket(ctx context.Context, b BlobStore, d Destination) error {
	return b.(*s3Store).c.MakeBucket(ctx, d.Bucket, minio.MakeBucketOptions{Region: d.Region})
}

// CheckBlobStoreContract checks the BlobStore contract on bs.
func CheckBlobStoreContract(t *testing.T, bs BlobStore) { testBlobStore(t, bs) }
