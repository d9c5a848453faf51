package store

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	f := func(name string, mutate func(*Config), wantErr string) {
		t.Helper()
		cfg := DefaultConfig(t.TempDir())
		mutate(&cfg)
		err := cfg.Validate()
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("%s: got %v; want no error", name, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("%s: got %v; want an error naming %q", name, err, wantErr)
		}
	}
	f("defaults", func(*Config) {}, "")
	f("largest block target", func(c *Config) { c.BlockTargetBytes = maxBlockBytes }, "")
	f("block target too small", func(c *Config) { c.BlockTargetBytes = 1023 }, "BlockTargetBytes")
	f("block target too large", func(c *Config) { c.BlockTargetBytes = maxBlockBytes + 1 }, "BlockTargetBytes")
	f("line too large", func(c *Config) { c.MaxLineBytes = maxBlockBytes + 1 }, "MaxLineBytes")
	f("largest line", func(c *Config) { c.MaxLineBytes = maxBlockBytes }, "")
	f("entry over half a WAL record", func(c *Config) { c.MaxMetadataBytes = maxWALRecord / 32 }, "WAL record")
	f("labels over half a WAL record", func(c *Config) { c.MaxLabels, c.MaxLabelValueLen = 1000, maxWALRecord/1000 }, "WAL record")
}
