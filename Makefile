# shardcounter: build, run and test. `make run` starts a local cluster.

BIN := bin/shardcounter

.PHONY: deps build run test fmt clean

## deps: install the system packages (RocksDB, redis-tools, a C toolchain) and Go modules
deps:
	scripts/setup.sh

## build: build bin/shardcounter
build:
	go build -o $(BIN) ./cmd/shardcounter

## run: build and start a local 3-shard cluster (Ctrl-C stops it)
run: deps build
	./$(BIN) local

## test: vet and run every test
test: deps
	go vet ./...
	go test -count=1 -timeout 12m ./...

## fmt: format the Go sources
fmt:
	gofmt -w .

## clean: remove build output (not ./data)
clean:
	rm -rf bin
