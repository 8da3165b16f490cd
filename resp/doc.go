// Package resp holds everything both sides of shardcounter's RESP traffic
// share: strict integer parsing, the protocol-aware reply writer, the
// connection commands every Redis-compatible server answers (HELLO, AUTH,
// CLIENT, PING, ...), the sentinel errors and their Redis error prefixes,
// and the wire commands a coordinator sends to a shard.
//
// Each wire command is defined once here, with the encoder the coordinator
// uses and the parser the shard uses, so the two sides cannot drift apart.
package resp
