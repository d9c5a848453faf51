GO ?= go
BIN := bin/kubelog

.PHONY: build run test testenv bench vet

build:
	$(GO) build -o $(BIN) ./cmd/kubelog

# The main job on the embedded defaults: no external service needed.
run: build
	./$(BIN) serve

# The binaries the end-to-end tests run (kube-apiserver, etcd, kwok,
# kube-controller-manager, kube-scheduler, kubectl, minio), built from pinned
# Go modules and cached: about 16 minutes the first time, a second after.
testenv:
	./tools/build.sh >/dev/null

# -count=1: the end-to-end tests build and run the kubelog binary, which Go's
# test cache does not see, so a cached pass could hide a change.
test: testenv
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

bench: build
	./$(BIN) bench --corpus ../shared/data/loghub

vet:
	$(GO) vet ./...
