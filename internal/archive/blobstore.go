package archive

import (
	"context"
	"errors"
	"io"
	"iter"
)

// BlobStore is a flat namespace of objects named by keys: what archive jobs
// write objects and manifests to, and what queries and downloads read them
// back from. A policy's destination opens to one (Config.Blobs): its S3
// bucket in kubelog serve, an in-memory fake in tests. It is also the seam a
// cluster mode's part storage plugs into.
//
// Keys are slash-separated paths without a leading slash; a store gives them
// no meaning beyond their bytes. Every method may be called concurrently
// with any other, also for the same key. Range reads are not part of the
// contract: nothing reads part of an object.
type BlobStore interface {
	// Put stores the size bytes that body yields under key, replacing any
	// object there, and returns once the store has them. It reads body to
	// its end or to an error, and does not keep body once it returns.
	// The returned ETag is the hex MD5 of the body where the store computes
	// one for a single upload (S3 single-part uploads, the fake), and
	// anything else otherwise: a caller that checks the upload compares it
	// with its own MD5 and falls back to Stat and Get when they differ.
	Put(ctx context.Context, key string, body io.Reader, size int64, opts PutOptions) (BlobInfo, error)
	// Get returns a reader of the whole object at key; the caller must
	// close it. A missing key is an error wrapping ErrBlobNotFound, from
	// Get or from the reader's first Read (S3 sends the request lazily).
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat returns the size and ETag of the object at key. A missing key is
	// an error wrapping ErrBlobNotFound.
	Stat(ctx context.Context, key string) (BlobInfo, error)
	// List yields the objects whose keys start with prefix (a plain string
	// prefix: "" lists everything), in ascending byte order of their keys.
	// An error ends the listing: it is yielded once, with a zero BlobInfo.
	// Breaking out of the loop stops the listing.
	List(ctx context.Context, prefix string) iter.Seq2[BlobInfo, error]
	// Remove deletes the object at key. Removing a missing key is not an
	// error.
	Remove(ctx context.Context, key string) error
}

// ErrBlobNotFound is wrapped by the error of a BlobStore's Get, Stat or
// reader when the key holds no object. It is a different error from
// meta.ErrNotFound: an object that the index knows and the bucket lost is
// not a client's mistake.
var ErrBlobNotFound = errors.New("no such object in the blob store")

// BlobInfo describes a stored object.
type BlobInfo struct {
	Key  string
	Size int64
	// ETag is the store's checksum of the object (see BlobStore.Put).
	ETag string
}

// PutOptions are what Put records beside an object's bytes.
type PutOptions struct {
	// ContentType and ContentEncoding are the HTTP headers a reader of the
	// object gets (S3 serves them to pre-signed downloads).
	ContentType     string
	ContentEncoding string
	// Metadata is the object's user metadata (S3: x-amz-meta-*).
	Metadata map[string]string
	// ETagChecked says that the caller compares the returned ETag with its
	// own MD5 of the body, so that the store need not hash the body again
	// for the transfer (S3: an unsigned payload instead of a SHA-256 one).
	ETagChecked bool
}
