package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// S3 is a running MinIO server started by StartS3. Stop must be called.
type S3 struct {
	// Endpoint is the server's URL, "http://127.0.0.1:PORT".
	Endpoint string
	// Host is Endpoint without the scheme, as minio-go's New wants it.
	Host string
	// AccessKey and SecretKey are the root credentials, random per server.
	AccessKey, SecretKey string
	// Region is the region the server reports.
	Region string

	proc *process
}

// StartS3 starts MinIO on a free loopback port with random root credentials, its
// data, certificates directory and log (minio.log) under dir, and waits until it
// is live. It builds the binaries first if needed (see Binaries). ctx bounds the
// start only.
func StartS3(ctx context.Context, dir string) (*S3, error) {
	bin, err := Binaries()
	if err != nil {
		return nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("start S3: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, fmt.Errorf("start S3: %w", err)
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	s := &S3{
		Host:      hostPort(ports[0]),
		AccessKey: "kubelog" + randomHex(6),
		SecretKey: randomHex(16),
		Region:    "us-east-1",
	}
	s.Endpoint = "http://" + s.Host
	s.proc, err = startProcess(dir, "minio", filepath.Join(bin, "minio"), []string{
		"server", filepath.Join(dir, "data"),
		"--address=" + s.Host, "--console-address=" + hostPort(ports[1]),
		"--certs-dir=" + filepath.Join(dir, "certs"), "--quiet",
	}, []string{
		"MINIO_ROOT_USER=" + s.AccessKey, "MINIO_ROOT_PASSWORD=" + s.SecretKey,
		"MINIO_REGION=" + s.Region, "MINIO_BROWSER=off", "MINIO_UPDATE=off",
	})
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 5 * time.Second}
	if err := s.proc.waitReady(ctx, httpOK(client, s.Endpoint+"/minio/health/live", "")); err != nil {
		s.Stop()
		return nil, fmt.Errorf("start S3 in %s: %w", dir, err)
	}
	return s, nil
}

// Stop stops the server (SIGTERM, then SIGKILL after 3s). It leaves the data in
// place and may be called more than once.
func (s *S3) Stop() {
	s.proc.stop()
}
