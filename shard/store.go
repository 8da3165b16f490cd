package shard

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"sync"

	"github.com/linxGnu/grocksdb"

	"github.com/shardcounter/shardcounter/resp"
)

// The RocksDB key layout. One byte of prefix tells the record kind.
//
//	m<name>                     meta: the shard id; the incarnation of the
//	                            data directory; mprobe, the time of the last
//	                            SC.PING, 8 bytes (see Server.scPing)
//	mpeer:<id>                  the incarnation of a peer shard, as a
//	                            coordinator admitted it (see SC.MEMBERS)
//	c<keyhash:8><key>           a counter's partial: int64, 8 bytes big-endian
//	d<coord:8><seq:8>           an applied request id: the partial it produced;
//	                            empty for the last id pruned (see dedupIndex)
//
// Counters are stored in KeyHash order so that SCAN cursors are plain
// numbers (see resp.KeyHash). Request ids of one coordinator are stored in
// sequence order, so a range delete prunes them.
const (
	prefixMeta    = 'm'
	prefixCounter = 'c'
	prefixDedup   = 'd'
)

var (
	metaShardID     = []byte("mshard_id")
	metaIncarnation = []byte("mincarnation")
	metaProbe       = []byte("mprobe")
	metaPeerPrefix  = []byte("mpeer:")
)

// store is the RocksDB side of a shard. Reads may run from any goroutine;
// every write of counters and request ids goes through the one writer
// goroutine (see writer.go). The meta records are written apart from it:
// the id and incarnation at open, the peers by recordPeers.
type store struct {
	db   *grocksdb.DB
	opts *grocksdb.Options
	bbto *grocksdb.BlockBasedTableOptions
	bc   *grocksdb.Cache
	ro   *grocksdb.ReadOptions
	wo   *grocksdb.WriteOptions

	// incarnation is the data directory's: a random id written when the
	// directory is created (see resp.Member).
	incarnation string
	// peersMu serialises SC.MEMBERS records, so that ADD never overwrites.
	peersMu sync.Mutex

	// mu guards closed: a read holds it shared, close holds it alone, so
	// no read runs into a closed database (a command may still be handled
	// while the shard shuts down).
	mu     sync.RWMutex
	closed bool
}

// errClosed answers a read that comes after the database was closed.
var errClosed = fmt.Errorf("%w: the database is closed", resp.ErrShuttingDown)

// read starts a read: it reports false when the database is closed, and
// otherwise holds mu shared until the caller calls s.mu.RUnlock.
func (s *store) read() bool {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return false
	}
	return true
}

// openStore opens (or creates) the database in dir and checks that it
// belongs to shard id: a data directory is never shared between two ids.
func openStore(dir, id string, syncWrites bool, blockCacheBytes uint64) (*store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("shard: create data dir: %w", err)
	}
	bbto := grocksdb.NewDefaultBlockBasedTableOptions()
	bbto.SetFilterPolicy(grocksdb.NewBloomFilter(10))
	bc := grocksdb.NewLRUCache(blockCacheBytes)
	bbto.SetBlockCache(bc)
	opts := grocksdb.NewDefaultOptions()
	opts.SetCreateIfMissing(true)
	opts.SetBlockBasedTableFactory(bbto)
	opts.IncreaseParallelism(2)
	opts.SetMaxOpenFiles(512)
	opts.SetKeepLogFileNum(3)
	opts.SetMaxLogFileSize(16 << 20)
	opts.SetInfoLogLevel(grocksdb.WarnInfoLogLevel)
	// Memory and recovery stay bounded whatever the number of counters:
	// two 16 MiB memtables at most, and after a crash their WAL to replay,
	// at most about 9 MB. Replay inserts every record into a memtable again:
	// on the reference machine a shard killed with 8.4 MB of WAL answered
	// again after 1.7-1.8 s. With 32 MiB memtables the WAL grew to 18 MB
	// and a restart took up to 2.9 s, for no measurable gain: in
	// BenchmarkApplyMillionKeys, run alternately, 12.1-13.2 µs an increment
	// against 11.7-13.3 with 16 MiB. The WAL limit is a backstop: older WAL
	// forces a flush.
	opts.SetWriteBufferSize(16 << 20)
	opts.SetMaxWriteBufferNumber(2)
	opts.SetMaxTotalWalSize(64 << 20)
	// A bloom filter over whole keys in the memtable: looking up a counter
	// that is not there (every new counter) skips the skiplist walk.
	opts.SetMemtableWholeKeyFiltering(true)
	opts.SetMemTablePrefixBloomSizeRatio(0.1)
	// Index and filter blocks live in the block cache, so memory stays
	// bounded by it however many counters there are.
	bbto.SetCacheIndexAndFilterBlocks(true)
	bbto.SetPinL0FilterAndIndexBlocksInCache(true)
	db, err := grocksdb.OpenDb(opts, dir)
	if err != nil {
		opts.Destroy()
		bbto.Destroy()
		bc.Destroy()
		return nil, fmt.Errorf("shard: open RocksDB in %s: %w", dir, err)
	}
	wo := grocksdb.NewDefaultWriteOptions()
	wo.SetSync(syncWrites)
	s := &store{db: db, opts: opts, bbto: bbto, bc: bc, ro: grocksdb.NewDefaultReadOptions(), wo: wo}
	if err := s.checkID(id); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// checkID checks that the data directory belongs to shard id, and reads
// its incarnation. A new directory gets both, in one fsynced write; one
// written before incarnations existed gets an incarnation now.
func (s *store) checkID(id string) error {
	got, err := s.db.GetBytes(s.ro, metaShardID)
	if err != nil {
		return fmt.Errorf("shard: read shard id: %w", err)
	}
	if got != nil && string(got) != id {
		return fmt.Errorf("shard: data directory belongs to shard %q, not %q", got, id)
	}
	inc, err := s.db.GetBytes(s.ro, metaIncarnation)
	if err != nil {
		return fmt.Errorf("shard: read incarnation: %w", err)
	}
	if got != nil && inc != nil {
		s.incarnation = string(inc)
		return nil
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("shard: make incarnation: %w", err)
	}
	s.incarnation = hex.EncodeToString(b[:])
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	wb.Put(metaShardID, []byte(id))
	wb.Put(metaIncarnation, []byte(s.incarnation))
	if err := s.writeSynced(wb); err != nil {
		return fmt.Errorf("shard: store shard id: %w", err)
	}
	return nil
}

// writeSynced writes wb and fsyncs the WAL, whatever --sync says.
func (s *store) writeSynced(wb *grocksdb.WriteBatch) error {
	wo := grocksdb.NewDefaultWriteOptions()
	defer wo.Destroy()
	wo.SetSync(true)
	return s.db.Write(wo, wb)
}

// peers returns the incarnation of every peer shard recorded here, by id.
func (s *store) peers() ([]resp.Member, error) {
	if !s.read() {
		return nil, errClosed
	}
	defer s.mu.RUnlock()
	it := s.db.NewIterator(s.ro)
	defer it.Close()
	var out []resp.Member
	for it.Seek(metaPeerPrefix); it.Valid() && bytes.HasPrefix(it.Key().Data(), metaPeerPrefix); it.Next() {
		out = append(out, resp.Member{
			ID:          string(it.Key().Data()[len(metaPeerPrefix):]),
			Incarnation: string(it.Value().Data()),
		})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", resp.ErrStorage, err)
	}
	return out, nil
}

// recordPeers stores the incarnations of peers, fsynced: with overwrite
// false only those of ids that have none recorded here.
func (s *store) recordPeers(peers []resp.Member, overwrite bool) error {
	s.peersMu.Lock()
	defer s.peersMu.Unlock()
	if !s.read() {
		return errClosed
	}
	defer s.mu.RUnlock()
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	for _, p := range peers {
		key := append(bytes.Clone(metaPeerPrefix), p.ID...)
		if !overwrite {
			old, err := s.db.GetBytes(s.ro, key)
			if err != nil {
				return fmt.Errorf("%w: %v", resp.ErrStorage, err)
			}
			if old != nil {
				continue
			}
		}
		wb.Put(key, []byte(p.Incarnation))
	}
	if wb.Count() == 0 {
		return nil
	}
	if err := s.writeSynced(wb); err != nil {
		return fmt.Errorf("%w: recording peers: %v", resp.ErrAmbiguous, err)
	}
	return nil
}

// write writes wb with the shard's write options (WAL, and fsync with
// --sync).
func (s *store) write(wb *grocksdb.WriteBatch) error { return s.db.Write(s.wo, wb) }

func (s *store) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	// Flush the memtables, so the next start has no WAL to replay.
	// Everything is in the WAL already: a failed flush loses nothing.
	fo := grocksdb.NewDefaultFlushOptions()
	fo.SetWait(true)
	s.db.Flush(fo)
	fo.Destroy()
	s.db.Close()
	s.ro.Destroy()
	s.wo.Destroy()
	s.opts.Destroy()
	s.bbto.Destroy()
	s.bc.Destroy()
}

// rocksMemory is what RocksDB holds in memory, in bytes, by kind.
type rocksMemory struct {
	memtables, blockCache, pinned, tableReaders uint64
}

func (s *store) memory() rocksMemory {
	if !s.read() {
		return rocksMemory{}
	}
	defer s.mu.RUnlock()
	prop := func(name string) uint64 {
		v, _ := s.db.GetIntProperty(name)
		return v
	}
	return rocksMemory{
		memtables:    prop("rocksdb.cur-size-all-mem-tables"),
		blockCache:   s.bc.GetUsage(),
		pinned:       s.bc.GetPinnedUsage(),
		tableReaders: prop("rocksdb.estimate-table-readers-mem"),
	}
}

// counterKey appends the RocksDB key of a counter to dst.
func counterKey(dst, key []byte) []byte {
	dst = append(dst, prefixCounter)
	dst = binary.BigEndian.AppendUint64(dst, resp.KeyHash(key))
	return append(dst, key...)
}

// counterPrefixAt is the first RocksDB key at or after KeyHash position h.
func counterPrefixAt(h uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixCounter}, h)
}

// dedupKey appends the RocksDB key of a request id to dst.
func dedupKey(dst []byte, id resp.RequestID) []byte {
	dst = append(dst, prefixDedup)
	dst = binary.BigEndian.AppendUint64(dst, id.Coord)
	return binary.BigEndian.AppendUint64(dst, id.Seq)
}

func encodeInt(dst []byte, v int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) }

// partial is a shard's part of one counter.
//
// count is what the shard adds to the counter's total: the sum of every
// shard's count is the value (invariant 1), and only increments, SET and
// DEL change it. covered is kept on the counter's owner: what the other
// shards' counts added up to when a coordinator last folded them into the
// owner's replies (SC.COVER). The owner replies to an increment with
// count+covered, the exact total while the others stay as they were, so a
// counter that took writes elsewhere during a failover gets exact INCRBY
// replies again without any partial moving between shards, which a read
// running at the same time could see twice or not at all.
type partial struct {
	count, covered int64
}

// basis is what an increment's reply counts from: the total, as far as
// this shard knows it.
func (p partial) basis() (int64, bool) { return resp.AddInt(p.count, p.covered) }

// appendPartial encodes p: the count as 8 bytes big-endian, then covered as
// 8 more only when it is not 0, so a counter never folded takes 8 bytes.
func appendPartial(dst []byte, p partial) []byte {
	dst = encodeInt(dst, p.count)
	if p.covered != 0 {
		dst = encodeInt(dst, p.covered)
	}
	return dst
}

func decodePartial(b []byte) (partial, error) {
	switch len(b) {
	case 8:
		return partial{count: int64(binary.BigEndian.Uint64(b))}, nil
	case 16:
		return partial{count: int64(binary.BigEndian.Uint64(b)), covered: int64(binary.BigEndian.Uint64(b[8:]))}, nil
	}
	return partial{}, fmt.Errorf("%w: stored partial has %d bytes, want 8 or 16", resp.ErrStorage, len(b))
}

// partial reads the committed partial of key. ok is false when there is
// none.
func (s *store) partial(key []byte) (p partial, ok bool, err error) {
	var buf [64]byte
	if !s.read() {
		return partial{}, false, errClosed
	}
	defer s.mu.RUnlock()
	h, err := s.db.GetPinned(s.ro, counterKey(buf[:0], key))
	if err != nil {
		return partial{}, false, fmt.Errorf("%w: %v", resp.ErrStorage, err)
	}
	defer h.Destroy()
	if !h.Exists() {
		return partial{}, false, nil
	}
	p, err = decodePartial(h.Data())
	return p, err == nil, err
}

// partials reads the committed partials of keys: one RocksDB MultiGet for
// them all, rather than a call into RocksDB per key. found[i] is false
// where there is none.
func (s *store) partials(keys [][]byte) (vals []partial, found []bool, err error) {
	vals, found = make([]partial, len(keys)), make([]bool, len(keys))
	if len(keys) == 1 {
		vals[0], found[0], err = s.partial(keys[0])
		return vals, found, err
	}
	size := 0
	for _, k := range keys {
		size += 9 + len(k)
	}
	buf := make([]byte, 0, size)
	dbKeys := make([][]byte, len(keys))
	for i, k := range keys {
		from := len(buf)
		buf = counterKey(buf, k)
		dbKeys[i] = buf[from:]
	}
	if !s.read() {
		return nil, nil, errClosed
	}
	defer s.mu.RUnlock()
	got, err := s.db.MultiGet(s.ro, dbKeys...)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", resp.ErrStorage, err)
	}
	defer got.Destroy()
	for i, v := range got {
		if !v.Exists() {
			continue
		}
		if vals[i], err = decodePartial(v.Data()); err != nil {
			return nil, nil, err
		}
		found[i] = true
	}
	return vals, found, nil
}

// scan lists up to count keys at or after KeyHash position cursor that match
// pattern (all when match is nil). next is the position to resume at, or 0
// at the end.
func (s *store) scan(cursor uint64, count int, match func([]byte) bool) (keys [][]byte, next uint64, err error) {
	if !s.read() {
		return nil, 0, errClosed
	}
	defer s.mu.RUnlock()
	it := s.db.NewIterator(s.ro)
	defer it.Close()
	examined := 0
	for it.Seek(counterPrefixAt(cursor)); it.Valid(); it.Next() {
		k := it.Key().Data()
		if len(k) < 9 || k[0] != prefixCounter {
			break
		}
		h := binary.BigEndian.Uint64(k[1:9])
		if examined >= count {
			return keys, h, nil
		}
		examined++
		if match == nil || match(k[9:]) {
			keys = append(keys, append([]byte(nil), k[9:]...))
		}
	}
	if err := it.Err(); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", resp.ErrStorage, err)
	}
	return keys, 0, nil
}

// estimateKeys is RocksDB's estimate of the number of records.
func (s *store) estimateKeys() uint64 {
	if !s.read() {
		return 0
	}
	defer s.mu.RUnlock()
	v, _ := s.db.GetIntProperty("rocksdb.estimate-num-keys")
	return v
}

// checkpoint writes a RocksDB checkpoint of the database into dir.
func (s *store) checkpoint(dir string) error {
	if !s.read() {
		return errClosed
	}
	defer s.mu.RUnlock()
	cp, err := s.db.NewCheckpoint()
	if err != nil {
		return err
	}
	defer cp.Destroy()
	return cp.CreateCheckpoint(dir, 0)
}
