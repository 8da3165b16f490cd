module github.com/shardcounter/shardcounter

go 1.26.8

require (
	github.com/buraksezer/consistent v1.0.0
	github.com/cespare/xxhash/v2 v2.3.0
	github.com/hashicorp/golang-lru/v2 v2.0.7
	github.com/linxGnu/grocksdb v1.7.14
	github.com/redis/go-redis/v9 v9.23.0
	github.com/tidwall/match v1.2.0
	github.com/tidwall/redcon v1.6.4
)

require (
	github.com/tidwall/btree v1.1.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)
