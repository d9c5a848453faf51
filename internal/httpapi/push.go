package httpapi

import (
	"errors"
	"net/http"

	"github.com/kubelog/kubelog/internal/auth"
	"github.com/kubelog/kubelog/internal/ingest"
	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/store"
)

// push serves POST /loki/api/v1/push: Loki's JSON (optionally gzip) and
// snappy-compressed protobuf, with structured metadata. It answers 204 once
// the entries are durable.
func (a *API) push(w http.ResponseWriter, r *http.Request) error {
	tenant := tenantOf(r)
	// The lines alias a pooled buffer until release. Nothing keeps them past
	// this handler: the store copies each line into its WAL buffer and its
	// head before Append returns, and the tail hub copies the batch in
	// OnCommit.
	streams, release, err := ingest.DecodePushPooled(r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"), r.Body, a.cfg.MaxBodyBytes)
	defer release()
	if err != nil {
		a.ingest.failedPush(tenant)
		var mbe *http.MaxBytesError
		switch {
		case errors.Is(err, ingest.ErrTooLarge), errors.As(err, &mbe):
			return tooLarge("push body is over the limit of %d bytes: %v", a.cfg.MaxBodyBytes, err)
		case errors.Is(err, ingest.ErrUnsupportedContentType), errors.Is(err, ingest.ErrUnsupportedEncoding):
			return errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "%v", err)
		case errors.Is(err, ingest.ErrInvalidPayload):
			return badRequest("%v", err)
		}
		return err
	}
	entries, lineBytes := prepareEntries(streams)
	if len(entries) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	d := a.limiter.Allow(auth.Key{Tenant: tenant, Token: info(r).principal.TokenID}, auth.ClassPush, int64(lineBytes))
	if err := a.applyDecision(w, d, tenant, auth.ClassPush, int64(lineBytes)); err != nil {
		a.ingest.failedPush(tenant)
		return err
	}
	res, err := a.query.Append(r.Context(), tenant, entries)
	a.ingest.accepted(tenant, res.Accepted, acceptedBytes(entries, res))
	a.metrics.ingestLines.WithLabelValues(tenant).Add(float64(res.Accepted))
	if err != nil {
		var verr *store.ValidationError
		switch {
		case errors.As(err, &verr):
			a.ingest.rejected(tenant, verr.Rejected)
			a.metrics.ingestErrors.WithLabelValues(tenant).Add(float64(verr.Rejected))
			return badRequest("%v (the other %d entries were stored)", verr, res.Accepted+res.Duplicates)
		case errors.Is(err, store.ErrClosed):
			return errorf(http.StatusServiceUnavailable, "unavailable", "the server is shutting down; retry")
		}
		a.ingest.failedPush(tenant)
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// prepareEntries flattens the pushed streams and gives every entry a level:
// the one the pusher sent in structured metadata or as a stream label,
// normalised, or else the one detected from the line.
func prepareEntries(streams []ingest.Stream) ([]logmodel.Entry, int) {
	n := 0
	for _, s := range streams {
		n += len(s.Entries)
	}
	entries := make([]logmodel.Entry, 0, n)
	// One backing array for the metadata that gains a level.
	extra := make([]logmodel.Label, 0, n)
	bytes := 0
	for _, s := range streams {
		labelLevel := s.Labels.Get(logmodel.MetaLevel)
		for _, e := range s.Entries {
			bytes += len(e.Line)
			if lv := e.Metadata.Get(logmodel.MetaLevel); lv != "" {
				if norm := ingest.NormalizeLevel(lv); norm != lv {
					e.Metadata = withLevel(e.Metadata, norm)
				}
				entries = append(entries, e)
				continue
			}
			level := ""
			if labelLevel != "" {
				level = ingest.NormalizeLevel(labelLevel)
			} else {
				level = ingest.DetectLevel(e.Line)
			}
			if len(e.Metadata) == 0 {
				extra = append(extra, logmodel.Label{Name: logmodel.MetaLevel, Value: level})
				e.Metadata = extra[len(extra)-1 : len(extra) : len(extra)]
			} else {
				e.Metadata = withLevel(e.Metadata, level)
			}
			entries = append(entries, e)
		}
	}
	return entries, bytes
}

// withLevel returns md with the level set, sorted, in a new slice.
func withLevel(md logmodel.Labels, level string) logmodel.Labels {
	dst := append(make(logmodel.Labels, 0, len(md)+1), md...)
	for i := range dst {
		if dst[i].Name == logmodel.MetaLevel {
			dst[i].Value = level
			return dst
		}
	}
	return append(dst, logmodel.Label{Name: logmodel.MetaLevel, Value: level}).Sort()
}

func acceptedBytes(entries []logmodel.Entry, res store.AppendResult) int {
	n := 0
	for i, c := range res.Cursors {
		if !c.IsZero() {
			n += len(entries[i].Line)
		}
	}
	return n
}
