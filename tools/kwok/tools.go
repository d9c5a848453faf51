//go:build tools

// Package tools pins kwok for kubelog's end-to-end tests; tools/build.sh
// builds it from this module.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
