package collector

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
)

// Config configures a Manager. Start from DefaultConfig.
type Config struct {
	// MaxStreams bounds the log streams open at once per cluster; containers
	// beyond it wait for a slot. A stream gives its slot up at the end of each
	// MaxStreamLifetime, so that with more running containers than slots they
	// take turns (and the waiting ones catch up from their resume points);
	// set it above the number of containers to follow them all live.
	MaxStreams int
	// QPS and Burst are the client-go rate limits per cluster. Log streams
	// count once when opened; they are long-lived.
	QPS   float32
	Burst int
	// IdleTimeout reconnects a stream of a running container that sent no
	// byte for this long (a silent stall).
	IdleTimeout time.Duration
	// MaxStreamLifetime reconnects every stream after this long.
	MaxStreamLifetime time.Duration
	// BackoffMin and BackoffMax bound the jittered exponential backoff between
	// attempts to open a stream or store a batch.
	BackoffMin, BackoffMax time.Duration
	// DeletionGrace is how long a deleted pod's or a terminated container's
	// stream is kept open for its last lines when it does not end by itself.
	DeletionGrace time.Duration
	// BatchLines and BatchWait bound a batch of entries sent to the sink: it
	// is sent when it has BatchLines entries or its first entry waited
	// BatchWait.
	BatchLines int
	BatchWait  time.Duration
	// CheckpointInterval is how often, at most, a stream saves its resume
	// point; it always saves when it ends. Entries sent again after a crash
	// are dropped by the store as duplicates.
	CheckpointInterval time.Duration
	// MaxLineBytes bounds one log line read; the rest of a longer line is
	// dropped and the entry flagged truncated.
	MaxLineBytes int
	// StripPartialTimestamps removes the timestamps that kubelets before 1.32
	// wrote inside lines made of partial records; PartialMinBytes and
	// PartialMaxSpan tell them from the text (see the package doc).
	StripPartialTimestamps bool
	PartialMinBytes        int
	PartialMaxSpan         time.Duration
	// SelectionDelay is the longest a change of selections takes to apply.
	SelectionDelay time.Duration
	// Logger receives warnings and errors; nil means slog.Default().
	Logger *slog.Logger
	// Clock drives timers and rates; nil means the real clock.
	Clock clock.WithTicker
	// LogSource, when set, returns what opens the log streams of a cluster;
	// nil opens them with the cluster's API client (ClientLogSource).
	LogSource func(Cluster) LogSource
	// Registerer, when set, receives the kubelog_collector_* metrics.
	Registerer prometheus.Registerer
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		MaxStreams:         500,
		QPS:                50,
		Burst:              100,
		IdleTimeout:        2 * time.Minute,
		MaxStreamLifetime:  time.Hour,
		BackoffMin:         100 * time.Millisecond,
		BackoffMax:         30 * time.Second,
		DeletionGrace:      30 * time.Second,
		BatchLines:         1000,
		BatchWait:          100 * time.Millisecond,
		CheckpointInterval: time.Second,
		MaxLineBytes:       1 << 20,
		PartialMinBytes:    1024,
		PartialMaxSpan:     5 * time.Second,
		SelectionDelay:     time.Second,
	}
}

// Validate reports the first invalid setting.
func (c *Config) Validate() error {
	switch {
	case c.MaxStreams <= 0:
		return errors.New("collector: MaxStreams must be positive")
	case c.QPS <= 0 || c.Burst <= 0:
		return errors.New("collector: QPS and Burst must be positive")
	case c.IdleTimeout <= 0 || c.MaxStreamLifetime <= 0:
		return errors.New("collector: IdleTimeout and MaxStreamLifetime must be positive")
	case c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin:
		return errors.New("collector: BackoffMin must be positive and at most BackoffMax")
	case c.DeletionGrace < 0:
		return errors.New("collector: DeletionGrace must not be negative")
	case c.BatchLines <= 0 || c.BatchWait <= 0:
		return errors.New("collector: BatchLines and BatchWait must be positive")
	case c.CheckpointInterval < 0:
		return errors.New("collector: CheckpointInterval must not be negative")
	case c.MaxLineBytes < 1024:
		return errors.New("collector: MaxLineBytes must be at least 1024")
	case c.PartialMinBytes < 0 || c.PartialMaxSpan < 0:
		return errors.New("collector: PartialMinBytes and PartialMaxSpan must not be negative")
	case c.SelectionDelay <= 0 || c.SelectionDelay > 5*time.Second:
		return errors.New("collector: SelectionDelay must be positive and at most 5s")
	}
	return nil
}

// Cluster is a cluster to collect from.
type Cluster struct {
	// ID identifies the cluster in the Manager and in checkpoint keys.
	ID string
	// Name is the value of the entries' "cluster" label.
	Name string
	// Tenant owns the entries.
	Tenant string
	// RESTConfig reaches the API server; the Manager copies it and sets QPS
	// and Burst.
	RESTConfig *rest.Config
}

// Selection is one collection config: which containers of a cluster to collect.
type Selection struct {
	// ID identifies the selection (the collection config's ID).
	ID string
	// Namespace is one namespace, or "*" for all.
	Namespace string
	// LabelSelector selects pods by label; empty selects all.
	LabelSelector string
	// Pods, when not empty, names the only pods selected (a continuous job's
	// pods).
	Pods []string
	// OnlyContainers, when not empty, names the only containers collected;
	// IgnoreContainers names containers never collected.
	OnlyContainers, IgnoreContainers []string
	// IncludeInit also collects init containers.
	IncludeInit bool
	// Enabled turns the selection on.
	Enabled bool
}

// ExcludeAnnotation on a pod, set to "true", keeps it from being collected.
const ExcludeAnnotation = "kubelog.io/exclude"

// selection is a Selection with its label selector parsed.
type selection struct {
	Selection
	selector labels.Selector
}

// compileSelections parses the label selectors of sels, dropping disabled
// ones.
func compileSelections(sels []Selection) ([]selection, error) {
	var out []selection
	for _, s := range sels {
		if s.Namespace == "" {
			return nil, fmt.Errorf("selection %s: namespace is empty (use \"*\" for all)", s.ID)
		}
		sel, err := labels.Parse(s.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("selection %s: label selector: %w", s.ID, err)
		}
		if s.Enabled {
			out = append(out, selection{Selection: s, selector: sel})
		}
	}
	return out, nil
}

// selects reports whether any of sels collects container name of pod;
// init tells an init container.
func selects(sels []selection, pod *corev1.Pod, name string, init bool) bool {
	if pod.Annotations[ExcludeAnnotation] == "true" {
		return false
	}
	for _, s := range sels {
		if s.Namespace != "*" && s.Namespace != pod.Namespace {
			continue
		}
		if !s.selector.Matches(labels.Set(pod.Labels)) {
			continue
		}
		if len(s.Pods) > 0 && !slices.Contains(s.Pods, pod.Name) {
			continue
		}
		if init && !s.IncludeInit {
			continue
		}
		if len(s.OnlyContainers) > 0 && !slices.Contains(s.OnlyContainers, name) {
			continue
		}
		if slices.Contains(s.IgnoreContainers, name) {
			continue
		}
		return true
	}
	return false
}
