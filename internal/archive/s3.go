package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/kubelog/kubelog/internal/egress"
)

// bucketClient is a destination's S3 client and bucket.
type bucketClient struct {
	c      *minio.Client
	bucket string
	dest   Destination
}

// newClient builds an S3 client for d whose connections go through the
// egress policy. It does no I/O.
func newClient(d Destination, policy egress.Policy) (*bucketClient, error) {
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
	return &bucketClient{c: c, bucket: d.Bucket, dest: d}, nil
}

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
// credentials.
func (m *Manager) CheckDestination(ctx context.Context, d Destination) error {
	bc, err := newClient(d, m.cfg.Egress)
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
	if _, err := bc.c.PutObject(ctx, d.Bucket, probe, bytes.NewReader([]byte("ok")), 2, minio.PutObjectOptions{}); err != nil {
		e := classify(err, d.Endpoint)
		var fe *FieldError
		if errors.As(e, &fe) {
			fe.Message = "the bucket is not writable: " + fe.Message
		}
		return e
	}
	_ = bc.c.RemoveObject(ctx, d.Bucket, probe, minio.RemoveObjectOptions{})
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

// Probe checks that d's bucket answers.
func (m *Manager) Probe(ctx context.Context, d Destination) Reachability {
	bc, err := newClient(d, m.cfg.Egress)
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
