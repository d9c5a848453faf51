//go:build tools

// Package tools pins gosec for kubelog's lint step (make lint); tools/build.sh
// builds it from this module.
package tools

import (
	_ "github.com/securego/gosec/v2/cmd/gosec"
)
