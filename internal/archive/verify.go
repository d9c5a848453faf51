package archive

import (
	"context"
	"crypto/md5" // #nosec G501 -- MD5 is the S3 ETag and Content-MD5 checksum, not a security primitive
	"encoding/hex"
	"fmt"
	"io"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// verifyObject checks that the bucket holds key with the given size and MD5:
// from the ETag of a single-part upload, else by reading it back.
func verifyObject(ctx context.Context, bs BlobStore, key string, size int64, md5hex string) error {
	info, err := bs.Stat(ctx, key)
	if err != nil {
		return fmt.Errorf("verify %s: %w", key, err)
	}
	if info.Size != size {
		return fmt.Errorf("verify %s: the bucket holds %d bytes, %d were written", key, info.Size, size)
	}
	if info.ETag == md5hex {
		return nil
	}
	obj, err := bs.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("verify %s: %w", key, err)
	}
	defer obj.Close()
	h := md5.New() // #nosec G401 -- MD5 is the S3 ETag and Content-MD5 checksum, not a security primitive
	if _, err := io.Copy(h, obj); err != nil {
		return fmt.Errorf("verify %s: %w", key, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != md5hex {
		return fmt.Errorf("verify %s: checksum %s in the bucket, %s written", key, got, md5hex)
	}
	return nil
}

// verifyAll checks every object of a job in the bucket.
func (m *Manager) verifyAll(ctx context.Context, bs BlobStore, objs []Object) error {
	for i := range objs {
		if err := verifyObject(ctx, bs, objs[i].Key, objs[i].Size, objs[i].ETag); err != nil {
			return err
		}
	}
	return nil
}

// deleteArchived deletes the job's local entries (those of its range that
// matchers select, with a cursor up to snap) once every object of the job,
// objs, is verified in the bucket. A verification that fails or finds a
// mismatch keeps the local data.
func (m *Manager) deleteArchived(ctx context.Context, j *Job, bs BlobStore, objs []Object, matchers []logmodel.Matcher, snap uint64) error {
	if err := m.verifyAll(ctx, bs, objs); err != nil {
		return fmt.Errorf("verification before deleting local data: %w", err)
	}
	n, err := m.st.DeleteRange(ctx, j.Tenant, matchers, j.StartTime.UnixNano(), j.EndTime.UnixNano(), snap)
	if err != nil {
		return fmt.Errorf("delete archived local data: %w", err)
	}
	j.DeletedEntries = n
	m.metrics.deleted.WithLabelValues(j.Tenant).Add(float64(n))
	return nil
}
