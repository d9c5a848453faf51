//go:build tools

// Package tools pins staticcheck for kubelog's lint step (make lint);
// tools/build.sh builds it from this module.
package tools

import (
	_ "honnef.co/go/tools/cmd/staticcheck"
)
