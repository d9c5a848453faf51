package apps

import (
	"context"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// Archive finds archived objects; the server wires one when archive policies
// exist. Objects may be called concurrently.
type Archive interface {
	// Objects returns download links of the tenant's archived objects that
	// hold entries of streams that all matchers select, between from
	// (inclusive) and to (exclusive), Unix nanoseconds; to 0 means no end.
	// The caller owns the matchers; Objects must not change them.
	Objects(ctx context.Context, tenant string, matchers []logmodel.Matcher, from, to int64) ([]string, error)
}
