package podlog

import "fmt"

// maxLineSizeLimit bounds Config.MaxLineSize so that the record limits
// derived from it stay far inside an int.
const maxLineSizeLimit = 1 << 30

// Config holds the settings of a Decoder.
type Config struct {
	// MaxLineSize is the most bytes of text a Line holds. A longer line,
	// joined from partial records or written in one, is cut at this size and
	// marked Truncated; the rest of it is dropped.
	MaxLineSize int
}

// DefaultConfig returns the settings kubelog uses: lines of up to 16 MiB,
// the size kubelog tail keeps.
func DefaultConfig() Config {
	return Config{MaxLineSize: 16 << 20}
}

// Validate reports a setting out of its range.
func (c Config) Validate() error {
	if c.MaxLineSize <= 0 || c.MaxLineSize > maxLineSizeLimit {
		return fmt.Errorf("podlog: MaxLineSize %d is out of range; set it between 1 and %d", c.MaxLineSize, maxLineSizeLimit)
	}
	return nil
}
