package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/utils/clock"
)

// FsyncPolicy says when an append is acknowledged relative to fsync.
type FsyncPolicy string

const (
	// FsyncAlways acknowledges an append only after its WAL record is fsynced.
	// Concurrent appends share one fsync (group commit).
	FsyncAlways FsyncPolicy = "always"
	// FsyncInterval acknowledges after the write and fsyncs every FsyncInterval.
	FsyncInterval FsyncPolicy = "interval"
	// FsyncNever leaves flushing to the operating system.
	FsyncNever FsyncPolicy = "never"
)

// Config configures a Store. Start from DefaultConfig.
type Config struct {
	// Dir holds the WAL, the parts and the manifest. Required.
	Dir string
	// Fsync is the WAL durability policy; FsyncInterval is used with it.
	Fsync         FsyncPolicy
	FsyncInterval time.Duration
	// MaxLineBytes caps a line; longer lines are truncated and get the
	// metadata truncated=true. At most maxBlockBytes.
	MaxLineBytes int
	// MaxLabels, MaxLabelNameLen and MaxLabelValueLen limit a stream's labels.
	MaxLabels        int
	MaxLabelNameLen  int
	MaxLabelValueLen int
	// MaxMetadataBytes limits the structured metadata of one entry.
	MaxMetadataBytes int
	// MaxFuture rejects timestamps further than this ahead of the clock.
	MaxFuture time.Duration
	// Retention is the default age limit of entries; per-tenant values are set
	// with Store.SetRetention. Older entries are rejected at append.
	Retention time.Duration
	// DiskBudget caps the bytes of parts on disk; 0 means no cap. The oldest
	// parts are deleted first.
	DiskBudget int64
	// HeadMaxBytes is the raw size at which the in-memory head is flushed.
	HeadMaxBytes int64
	// HeadMaxAge flushes a head older than this even when it is small.
	HeadMaxAge time.Duration
	// PartWindow is the time window of a part: a flush writes one part per
	// tenant and window, and merges only join parts of the same window.
	PartWindow time.Duration
	// BlockTargetBytes is the raw size of a block. At most maxBlockBytes.
	BlockTargetBytes int
	// MergeMinParts is how many parts of one tenant and window trigger a merge.
	MergeMinParts int
	// MaintenanceInterval is how often retention and merges are checked.
	MaintenanceInterval time.Duration
	// Clock tells the time; tests inject a fake one.
	Clock clock.PassiveClock
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
	// OnCommit, when set, is called by one goroutine (the store's WAL
	// syncer) after each acknowledged group, in cursor order, with entries whose Line and
	// Metadata stay valid only during the call. It must not block for long.
	OnCommit func(tenant string, entries []CommittedEntry)
}

// CommittedEntry is an entry as passed to Config.OnCommit.
type CommittedEntry struct {
	Stream *Stream
	Entry  EntryView
}

// DefaultConfig returns the defaults for a store in dir.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:                 dir,
		Fsync:               FsyncAlways,
		FsyncInterval:       100 * time.Millisecond,
		MaxLineBytes:        256 << 10,
		MaxLabels:           30,
		MaxLabelNameLen:     1024,
		MaxLabelValueLen:    2048,
		MaxMetadataBytes:    8 << 10,
		MaxFuture:           10 * time.Minute,
		Retention:           30 * 24 * time.Hour,
		HeadMaxBytes:        32 << 20,
		HeadMaxAge:          10 * time.Minute,
		PartWindow:          24 * time.Hour,
		BlockTargetBytes:    128 << 10,
		MergeMinParts:       6,
		MaintenanceInterval: time.Minute,
		Clock:               clock.RealClock{},
	}
}

// maxBlockBytes bounds BlockTargetBytes and MaxLineBytes. A block holds at most
// about twice the larger of the two (a merge adds a whole small block to rows
// just under the target), which keeps its sizes within the uint32 fields of the
// part index and the line (2 GiB) and digit (1 GiB) limits of the decoder.
const maxBlockBytes = 64 << 20

// maxEntryWALBytes is walEntryBound of the largest entry c accepts: metadata
// names are not empty, so there are at most MaxMetadataBytes of them.
func (c *Config) maxEntryWALBytes() int64 {
	v := int64(binary.MaxVarintLen64)
	return 5*v + 8 + int64(c.MaxLineBytes) + (2*v+1)*int64(c.MaxMetadataBytes) +
		int64(c.MaxLabels)*(2*v+int64(c.MaxLabelNameLen)+int64(c.MaxLabelValueLen))
}

// Validate reports the first invalid setting.
func (c *Config) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("store: Dir is required")
	case c.Fsync != FsyncAlways && c.Fsync != FsyncInterval && c.Fsync != FsyncNever:
		return fmt.Errorf("store: Fsync must be always, interval or never, not %q", c.Fsync)
	case c.Fsync == FsyncInterval && c.FsyncInterval <= 0:
		return errors.New("store: FsyncInterval must be positive with Fsync=interval")
	case c.MaxLineBytes <= 0 || c.MaxLabels <= 0 || c.MaxLabelNameLen <= 0 || c.MaxLabelValueLen <= 0 || c.MaxMetadataBytes <= 0:
		return errors.New("store: line and label limits must be positive")
	case c.Retention <= 0:
		return errors.New("store: Retention must be positive")
	case c.HeadMaxBytes <= 0 || c.HeadMaxAge <= 0:
		return errors.New("store: HeadMaxBytes and HeadMaxAge must be positive")
	case c.PartWindow < time.Minute:
		return errors.New("store: PartWindow must be at least a minute")
	case c.BlockTargetBytes < 1024:
		return errors.New("store: BlockTargetBytes must be at least 1 KiB")
	case c.BlockTargetBytes > maxBlockBytes || c.MaxLineBytes > maxBlockBytes:
		return fmt.Errorf("store: BlockTargetBytes and MaxLineBytes must be at most %d MiB", maxBlockBytes>>20)
	case c.maxEntryWALBytes() > maxWALRecord/2:
		return fmt.Errorf("store: an entry at the line, label and metadata limits must fit in half a WAL record (%d MiB)", maxWALRecord>>21)
	case c.MergeMinParts < 2:
		return errors.New("store: MergeMinParts must be at least 2")
	case c.MaintenanceInterval <= 0:
		return errors.New("store: MaintenanceInterval must be positive")
	case c.Clock == nil:
		return errors.New("store: Clock is required")
	}
	return nil
}
