package archive

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
)

// memBlobs is an in-memory BlobStore for tests. Its hooks, set before the
// store is used, make an operation fail, block, or find other bytes.
type memBlobs struct {
	// onPut runs before a Put stores its object; its error fails the Put.
	onPut func(ctx context.Context, key string) error
	// afterPut runs once a Put has stored its object, before the Put
	// returns what it stored: the place to change or drop the object
	// behind the writer's back.
	afterPut func(key string)
	// onStat runs before a Stat; its error fails the Stat.
	onStat func(key string) error
	// etag gives the ETag Put returns for a body; nil means its hex MD5,
	// as S3 answers a single-part upload.
	etag func(body []byte) string

	mu sync.Mutex // guards objs and puts
	// objs maps a key to its object.
	objs map[string]memBlob
	// puts counts the Put calls that stored an object, by key.
	puts map[string]int
}

type memBlob struct {
	body []byte
	opts PutOptions
	etag string
}

var _ BlobStore = (*memBlobs)(nil)

func newMemBlobs() *memBlobs {
	return &memBlobs{objs: map[string]memBlob{}, puts: map[string]int{}}
}

func (s *memBlobs) Put(ctx context.Context, key string, body io.Reader, size int64, opts PutOptions) (BlobInfo, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return BlobInfo{}, err
	}
	if int64(len(b)) != size {
		return BlobInfo{}, fmt.Errorf("put %s: %d bytes read, size says %d", key, len(b), size)
	}
	if s.onPut != nil {
		if err := s.onPut(ctx, key); err != nil {
			return BlobInfo{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return BlobInfo{}, err
	}
	etag := s.etagOf(b)
	s.mu.Lock()
	s.objs[key] = memBlob{body: b, opts: opts, etag: etag}
	s.puts[key]++
	s.mu.Unlock()
	if s.afterPut != nil {
		s.afterPut(key)
	}
	return BlobInfo{Key: key, Size: size, ETag: etag}, nil
}

func (s *memBlobs) etagOf(b []byte) string {
	if s.etag != nil {
		return s.etag(b)
	}
	return md5Hex(b)
}

func (s *memBlobs) get(key string) (memBlob, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[key]
	if !ok {
		return o, fmt.Errorf("%s: %w", key, ErrBlobNotFound)
	}
	return o, nil
}

func (s *memBlobs) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	o, err := s.get(key)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(o.body)), nil
}

func (s *memBlobs) Stat(ctx context.Context, key string) (BlobInfo, error) {
	if s.onStat != nil {
		if err := s.onStat(key); err != nil {
			return BlobInfo{}, err
		}
	}
	o, err := s.get(key)
	if err != nil {
		return BlobInfo{}, err
	}
	return BlobInfo{Key: key, Size: int64(len(o.body)), ETag: o.etag}, nil
}

func (s *memBlobs) List(ctx context.Context, prefix string) iter.Seq2[BlobInfo, error] {
	return func(yield func(BlobInfo, error) bool) {
		for _, k := range s.keys(prefix) {
			o, err := s.get(k)
			if err != nil {
				continue // removed since
			}
			if !yield(BlobInfo{Key: k, Size: int64(len(o.body)), ETag: o.etag}, nil) {
				return
			}
		}
	}
}

func (s *memBlobs) Remove(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objs, key)
	return nil
}

// change replaces the body of the object at key with f of a copy of it, and
// its ETag with the one a Put of the new body gets, as another writer's
// upload would. A missing key is left missing.
func (s *memBlobs) change(key string, f func([]byte) []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[key]
	if !ok {
		return
	}
	o.body = f(bytes.Clone(o.body))
	o.etag = s.etagOf(o.body)
	s.objs[key] = o
}

// keys returns the keys that start with prefix, sorted.
func (s *memBlobs) keys(prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.objs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// object returns the object at key and whether there is one.
func (s *memBlobs) object(key string) (memBlob, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[key]
	return o, ok
}

// putCount returns how many Puts stored an object at key.
func (s *memBlobs) putCount(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts[key]
}
