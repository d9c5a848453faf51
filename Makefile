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

test: testenv
	$(GO) vet ./...
	$(GO) test -race -timeout 30m ./...

bench: build
	./$(BIN) bench --corpus ../shared/data/loghub

vet:
	$(GO) vet ./...
