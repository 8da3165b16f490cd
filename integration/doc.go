// Package integration holds shardcounter's end-to-end tests. They build the
// real binary once (TestMain), start shard and coordinator processes on free
// loopback ports with temporary data directories, drive them with go-redis
// v9 on its default options (HELLO 3), with redis-cli when it is installed,
// and over HTTP, and kill and restart the processes to check durability,
// failover and error reporting.
//
// Nothing here reaches beyond 127.0.0.1. Run with:
//
//	go test ./integration
package integration
