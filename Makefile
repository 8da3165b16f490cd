# shardcounter: build, run and test. `make run` starts a local cluster.

BIN := bin/shardcounter

.PHONY: deps build run test soak fuzz fmt clean

## deps: install the system packages (RocksDB, redis-tools, a C toolchain) and Go modules
deps:
	scripts/setup.sh

## build: build bin/shardcounter
build:
	go build -o $(BIN) ./cmd/shardcounter

## run: build and start a local 3-shard cluster (Ctrl-C stops it)
run: deps build
	./$(BIN) local --hot-threshold 10000

## test: vet and run every test
test: deps
	go vet ./...
	@command -v chromium >/dev/null || echo "chromium not installed: browser test skipped"
	go test -count=1 -timeout 12m ./...

## soak: kill -9 a random shard under 50-client load, SOAK_CYCLES times (default 10), one line of figures per cycle
SOAK_CYCLES ?= 10
soak: deps
	go test -count=1 -timeout 30m -run '^TestSoak$$' -v ./integration -soak.cycles=$(SOAK_CYCLES)

## fuzz: run every fuzz target for FUZZTIME each (default 30s); `make test` runs their seed corpora
FUZZTIME ?= 30s
fuzz: deps
	go test -run '^$$' -fuzz '^FuzzRESP$$' -fuzztime $(FUZZTIME) ./resp
	go test -run '^$$' -fuzz '^FuzzParseInt$$' -fuzztime $(FUZZTIME) ./resp
	go test -run '^$$' -fuzz '^FuzzSharded$$' -fuzztime $(FUZZTIME) ./coordinator
	go test -run '^$$' -fuzz '^FuzzCoordinatorRESP$$' -fuzztime $(FUZZTIME) ./coordinator

## fmt: format the Go sources
fmt:
	gofmt -w .

## clean: remove build output (not ./data)
clean:
	rm -rf bin

.PHONY: bench bench-scale bench-profile

## bench: throughput and latency against Redis, twemproxy and PostgreSQL (about 8 min; BENCH_QUICK=1 for a 1-min smoke run); writes bench/RESULTS.md
bench:
	bench/run.sh

## bench-scale: load 10M counters into 3 shards, record RSS and restart time (SCALE_KEYS=1000000 for a quick one); writes bench/RESULTS.md
bench-scale:
	bench/scale.sh

## bench-profile: perf profiles of shardcounter's coordinator and a shard under each bench workload (about 2 min); writes bench/profiles/
bench-profile:
	bench/profile.sh
