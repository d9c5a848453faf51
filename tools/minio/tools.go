//go:build tools

// Package tools pins MinIO for kubelog's end-to-end tests; tools/build.sh
// builds it from this module.
package tools

import (
	_ "github.com/minio/minio"
)
