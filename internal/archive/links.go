package archive

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/meta"
)

// maxPresign is the longest validity S3 allows a pre-signed URL.
const maxPresign = 7 * 24 * time.Hour

// Find returns the tenant's archived objects whose range overlaps [from, to)
// (Unix nanoseconds, 0 unbounded) and whose labels satisfy every matcher,
// in time order. Equality matchers on the indexed labels narrow the index
// lookup; every matcher is then checked against the object's labels.
func (m *Manager) Find(ctx context.Context, tenant string, matchers []logmodel.Matcher, from, to int64) ([]Object, error) {
	f := Filter{Tenant: tenant, Start: from, End: to}
	for _, mt := range matchers {
		if mt.Type != logmodel.MatchEqual || mt.Value == "" {
			continue
		}
		switch mt.Name {
		case "cluster":
			f.Cluster = mt.Value
		case "namespace":
			f.Namespace = mt.Value
		case "pod":
			f.Pod = mt.Value
		case "container":
			f.Container = mt.Value
		}
	}
	compiled, err := logmodel.CompileMatchers(matchers)
	if err != nil {
		return nil, err
	}
	objs, _, err := m.index.List(ctx, f)
	if err != nil {
		return nil, err
	}
	out := objs[:0]
	for _, o := range objs {
		ls := logmodel.NewLabels(o.Labels)
		ok := true
		for _, mt := range compiled {
			if !mt.Matches(ls.Get(mt.Name)) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, o)
		}
	}
	return out, nil
}

// Links gives pre-signed download links of archived objects: a GET of one
// reads the object straight from its bucket, with no kubelog credentials,
// until the links expire.
type Links struct {
	m   *Manager
	ttl time.Duration
}

// Links returns links valid for ttl (at most seven days, S3's limit).
func (m *Manager) Links(ttl time.Duration) *Links {
	return &Links{m: m, ttl: min(ttl, maxPresign)}
}

// Objects returns one pre-signed GET URL per archived object of the tenant
// that Find selects, in time order. An object whose policy was deleted has
// no credentials left to sign with and is left out.
func (l *Links) Objects(ctx context.Context, tenant string, matchers []logmodel.Matcher, from, to int64) ([]string, error) {
	objs, err := l.m.Find(ctx, tenant, matchers, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(objs))
	seen := map[string]bool{}
	stores := map[string]*s3Store{} // by policy id; nil: policy deleted
	for i := range objs {
		o := &objs[i]
		bc, ok := stores[o.PolicyID]
		if !ok {
			bs, err := l.m.policyBlobs(ctx, o.PolicyID)
			if err != nil && !errors.Is(err, meta.ErrNotFound) {
				return nil, fmt.Errorf("the policy of archived object %q: %w", o.Key, err)
			}
			if bs != nil {
				if bc, ok = bs.(*s3Store); !ok {
					return nil, fmt.Errorf("sign a link to archived object %q: its blob store is not an S3 bucket", o.Key)
				}
			}
			stores[o.PolicyID] = bc
		}
		if bc == nil {
			continue
		}
		where := bc.dest.Endpoint + "\x00" + bc.bucket + "\x00" + o.Key
		if seen[where] {
			continue
		}
		seen[where] = true
		params := url.Values{"response-content-disposition": {`attachment; filename="` + path.Base(o.Key) + `"`}}
		u, err := bc.c.PresignedGetObject(ctx, bc.bucket, o.Key, l.ttl, params)
		if err != nil {
			return nil, fmt.Errorf("sign a link to archived object %q: %w", o.Key, err)
		}
		out = append(out, u.String())
	}
	return out, nil
}
