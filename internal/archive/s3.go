package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/kubelog/kubelog/internal/egress"
)

// s3Store is the BlobStore of a destination's S3 bucket. CheckDestination,
// Probe and Links use its client for what only S3 has: buckets and
// pre-signed URLs.
type s3Store struct {
	c      *minio.Client
	bucket string
	dest   Destination
}

var _ BlobStore = (*s3Store)(nil)

// newS3Store opens the bucket of d with an S3 client whose connections go
// through the egress policy. It does no I/O.
func newS3Store(d Destination, policy egress.Policy) (*s3Store, error) {
	host, secure := d.Endpoint, d.TLS
	if strings.Contains(host, "://") {
		u, err := url.Parse(host)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
			return nil, fieldErr("destination.endpoint", "%q is not host[:port] or an http(s) URL without a path", d.Endpoint)
		}
		host, secure = u.Host, u.Scheme == "https"
	}
	if err := s3utils.CheckValidBucketNameStrict(d.Bucket); err != nil {
		return nil, fieldErr("destination.bucket", "%q is not a valid bucket name: %v", d.Bucket, err)
	}
	lookup := minio.BucketLookupAuto
	if d.PathStyle {
		lookup = minio.BucketLookupPath
	}
	tr := policy.Transport(&http.Transport{
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	})
	c, err := minio.New(host, &minio.Options{
		Creds:        credentials.NewStaticV4(d.AccessKeyID, d.SecretAccessKey, ""),
		Secure:       secure,
		Region:       d.Region,
		BucketLookup: lookup,
		Transport:    tr,
		MaxRetries:   3,
	})
	if err != nil {
		return nil, fieldErr("destination.endpoint", "%v", err)
	}
	return &s3Store{c: c, bucket: d.Bucket, dest: d}, nil
}

// Put implements BlobStore with a PutObject, single-part for the sizes the
// archive writes.
func (s *s3Store) Put(ctx context.Context, key string, body io.Reader, size int64, opts PutOptions) (BlobInfo, error) {
	info, err := s.c.PutObject(ctx, s.bucket, key, body, size, minio.PutObjectOptions{
		ContentType: opts.ContentType, ContentEncoding: opts.ContentEncoding, UserMetadata: opts.Metadata,
		DisableContentSha256: opts.ETagChecked,
	})
	if err != nil {
		return BlobInfo{}, s3Error(err)
	}
	return BlobInfo{Key: key, Size: info.Size, ETag: info.ETag}, nil
}

// Get implements BlobStore; the GET is sent at the first Read.
func (s *s3Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := s.c.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s3Error(err)
	}
	return s3Reader{obj}, nil
}

// s3Reader reads an S3 object, with a missing key's error wrapping
// ErrBlobNotFound.
type s3Reader struct{ obj *minio.Object }

func (r s3Reader) Read(p []byte) (int, error) {
	n, err := r.obj.Read(p)
	if err != nil && err != io.EOF {
		err = s3Error(err)
	}
	return n, err
}

func (r s3Reader) Close() error { return r.obj.Close() }

// Stat implements BlobStore with a HEAD of the object.
func (s *s3Store) Stat(ctx context.Context, key string) (BlobInfo, error) {
	info, err := s.c.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return BlobInfo{}, s3Error(err)
	}
	return BlobInfo{Key: key, Size: info.Size, ETag: info.ETag}, nil
}

// List implements BlobStore with ListObjectsV2, whose order is the keys'
// byte order.
func (s *s3Store) List(ctx context.Context, prefix string) iter.Seq2[BlobInfo, error] {
	return func(yield func(BlobInfo, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if o.Err != nil {
				yield(BlobInfo{}, s3Error(o.Err))
				return
			}
			if !yield(BlobInfo{Key: o.Key, Size: o.Size, ETag: o.ETag}, nil) {
				return
			}
		}
	}
}

// Remove implements BlobStore; S3 answers a DELETE of a missing key with
// success.
func (s *s3Store) Remove(ctx context.Context, key string) error {
	return s3Error(s.c.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}))
}

// s3Error marks the error of a missing key as ErrBlobNotFound, keeping its
// message and the minio.ErrorResponse underneath.
func s3Error(err error) error {
	if err != nil && minio.ToErrorResponse(err).Code == "NoSuchKey" {
		return &blobNotFoundError{err: err}
	}
	return err
}

// blobNotFoundError is a store's missing-key error that wraps
// ErrBlobNotFound with the store's own message.
type blobNotFoundError struct{ err error }

func (e *blobNotFoundError) Error() string   { return e.err.Error() }
func (e *blobNotFoundError) Unwrap() []error { return []error{ErrBlobNotFound, e.err} }

// classify turns an S3 error into a FieldError naming what is wrong.
func classify(err error, endpoint string) error {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.Code {
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken":
			return fieldErr("destination", "the credentials were rejected (%s): check access_key_id and secret_access_key", resp.Code)
		case "InvalidBucketName":
			return fieldErr("destination.bucket", "the server rejects the bucket name: %s", resp.Message)
		case "AuthorizationHeaderMalformed", "InvalidRegion":
			return fieldErr("destination.region", "the server rejects the region: %s", resp.Message)
		}
		return fieldErr("destination", "the S3 server answered %s: %s", resp.Code, resp.Message)
	}
	// Anything else failed on the way: the tenant learns that, and the
	// policy's verdict, never the dial's details.
	e := egress.Public(endpoint, err)
	return &FieldError{Field: "destination.endpoint", Message: e.Error(), ID: e.ID(), Cause: err}
}

// CheckDestination checks that d's bucket is reachable and writable,
// creating it when it does not exist and the credentials allow. Its errors
// are FieldErrors naming the culprit: the bucket name, the endpoint, the
// credentials. It speaks S3 to the destination, whatever Config.Blobs is.
func (m *Manager) CheckDestination(ctx context.Context, d Destination) error {
	bc, err := newS3Store(d, m.cfg.Egress)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ok, err := bc.c.BucketExists(ctx, d.Bucket)
	if err != nil {
		return classify(err, d.Endpoint)
	}
	if !ok {
		if err := bc.c.MakeBucket(ctx, d.Bucket, minio.MakeBucketOptions{Region: d.Region}); err != nil {
			var resp minio.ErrorResponse
			if errors.As(err, &resp) && (resp.Code == "BucketAlreadyOwnedByYou" || resp.Code == "BucketAlreadyExists") {
				return nil
			}
			return fmt.Errorf("bucket %q does not exist and cannot be created: %w", d.Bucket, classify(err, d.Endpoint))
		}
	}
	probe := probeKey(d.Prefix)
	if _, err := bc.Put(ctx, probe, bytes.NewReader([]byte("ok")), 2, PutOptions{}); err != nil {
		e := classify(err, d.Endpoint)
		var fe *FieldError
		if errors.As(e, &fe) {
			fe.Message = "the bucket is not writable: " + fe.Message
		}
		return e
	}
	_ = bc.Remove(ctx, probe)
	return nil
}

func probeKey(prefix string) string {
	k := ".kubelog-write-check"
	if prefix != "" {
		k = prefix + "/" + k
	}
	return k
}

// Reachability is a destination's state for /storage/info.
type Reachability struct {
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
	LatencyMs int64  `json:"latency_ms"`
}

// Probe checks that d's bucket answers. It speaks S3 to the destination,
// whatever Config.Blobs is.
func (m *Manager) Probe(ctx context.Context, d Destination) Reachability {
	bc, err := newS3Store(d, m.cfg.Egress)
	if err != nil {
		return Reachability{Error: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	ok, err := bc.c.BucketExists(ctx, d.Bucket)
	r := Reachability{LatencyMs: time.Since(start).Milliseconds()}
	switch {
	case err != nil:
		r.Error = classify(err, d.Endpoint).Error()
	case !ok:
		r.Error = fmt.Sprintf("bucket %q does not exist", d.Bucket)
	default:
		r.Reachable = true
	}
	return r
}
