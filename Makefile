GO ?= go
BIN := bin/kubelog

.PHONY: build run test bench fuzz vet

build:
	$(GO) build -o $(BIN) ./cmd/kubelog

# The main job on the embedded defaults: no external service needed.
run: build
	./$(BIN) serve

test:
	$(GO) vet ./...
	$(GO) test -race -timeout 30m ./...

bench: build
	./$(BIN) bench --corpus ../shared/data/loghub

vet:
	$(GO) vet ./...
