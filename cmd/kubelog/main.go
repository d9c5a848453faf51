// Command kubelog collects, stores and serves Kubernetes container logs.
package main

import (
	"os"

	"github.com/kubelog/kubelog/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
