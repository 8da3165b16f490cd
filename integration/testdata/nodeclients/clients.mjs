// Drives a shardcounter coordinator with ioredis and node-redis, each on its
// default options, and checks every reply as Redis would give it. Counters
// are prefixed io: and nr:. Exits 1, naming the check, at the first reply
// that is not Redis'. With PASSWORD (the coordinator's --requirepass), both
// clients authenticate in their HELLO 3.
//
//   node clients.mjs HOST:PORT [PASSWORD]
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { createClient } from 'redis';

const [host, port] = process.argv[2].split(':');
const password = process.argv[3];
const maxInt64 = '9223372036854775807';
const notInteger = /^ERR value is not an integer or out of range/;
const overflow = /^ERR increment or decrement would overflow/;

// shardSum adds up a SHARDVALUES reply: a map in RESP3 (an object or a
// Map, as the client gives it), a flat id, partial array in RESP2.
function shardSum(reply) {
  let entries;
  if (reply instanceof Map) entries = [...reply.entries()];
  else if (Array.isArray(reply)) {
    entries = [];
    for (let i = 0; i < reply.length; i += 2) entries.push([reply[i], reply[i + 1]]);
  } else entries = Object.entries(reply);
  assert.equal(entries.length, 3, `SHARDVALUES has one entry a shard: ${JSON.stringify(entries)}`);
  return entries.reduce((sum, [, v]) => sum + Number(v), 0);
}

async function rejects(promise, pattern, what) {
  await assert.rejects(promise, (err) => pattern.test(err.message), what);
}

// checks runs what both clients are checked on. c names each command as
// that client does: { ping, info, incrby, incr, decr, decrby, get, mget,
// set, del, exists, call } (mget takes an array, call the raw arguments),
// and p prefixes the counters.
async function checks(c, p) {
  assert.equal(await c.ping(), 'PONG');
  assert.match(await c.info(), /redis_version:/);
  assert.equal(await c.incrby(p + 'a', 5), 5);
  assert.equal(await c.incr(p + 'a'), 6);
  assert.equal(await c.decr(p + 'a'), 5);
  assert.equal(await c.decrby(p + 'a', 3), 2);
  assert.equal(await c.get(p + 'a'), '2');
  assert.deepEqual(await c.mget([p + 'a', p + 'none']), ['2', null]);
  assert.equal(shardSum(await c.call(['SHARDVALUES', p + 'a'])), 2);

  assert.equal(await c.set(p + 's', '42'), 'OK');
  assert.equal(await c.get(p + 's'), '42');
  assert.equal(await c.exists(p + 's'), 1);
  assert.equal(await c.del(p + 's'), 1);
  assert.equal(await c.get(p + 's'), null);

  await rejects(c.call(['INCRBY', p + 'a', 'abc']), notInteger, 'INCRBY with a bad delta');
  assert.equal(await c.set(p + 'max', maxInt64), 'OK');
  await rejects(c.incr(p + 'max'), overflow, 'INCR at the int64 maximum');
  await rejects(c.call(['NOSUCH']), /^ERR unknown command 'NOSUCH'/, 'an unknown command');
  assert.equal(await c.get(p + 'a'), '2', 'errors changed nothing');
}

async function ioredis() {
  const c = new Redis({ host, port: Number(port), password, maxRetriesPerRequest: 0, lazyConnect: true });
  await c.connect();
  try {
    await checks({
      ping: () => c.ping(), info: () => c.info(), incrby: (k, n) => c.incrby(k, n), incr: (k) => c.incr(k),
      decr: (k) => c.decr(k), decrby: (k, n) => c.decrby(k, n), get: (k) => c.get(k), mget: (ks) => c.mget(...ks),
      set: (k, v) => c.set(k, v), del: (k) => c.del(k), exists: (k) => c.exists(k), call: (args) => c.call(...args),
    }, 'io:');

    // A pipeline: every reply in order.
    const p = c.pipeline();
    for (let i = 0; i < 100; i++) p.incr('io:p');
    const replies = await p.exec();
    assert.deepEqual(replies, Array.from({ length: 100 }, (_, i) => [null, i + 1]), 'pipeline replies');

    // Concurrent increments of one key: unique, consecutive replies.
    const got = await Promise.all(Array.from({ length: 200 }, () => c.incr('io:c')));
    assert.deepEqual(got.slice().sort((x, y) => x - y), Array.from({ length: 200 }, (_, i) => i + 1), 'concurrent INCR replies');
  } finally {
    c.disconnect();
  }
}

async function nodeRedis() {
  const c = createClient({ url: `redis://${host}:${port}`, password });
  c.on('error', () => {});
  await c.connect();
  try {
    await checks({
      ping: () => c.ping(), info: () => c.info(), incrby: (k, n) => c.incrBy(k, n), incr: (k) => c.incr(k),
      decr: (k) => c.decr(k), decrby: (k, n) => c.decrBy(k, n), get: (k) => c.get(k), mget: (ks) => c.mGet(ks),
      set: (k, v) => c.set(k, v), del: (k) => c.del(k), exists: (k) => c.exists(k), call: (args) => c.sendCommand(args),
    }, 'nr:');

    // Commands sent in one tick go out as one pipeline: replies in order.
    const inOrder = await Promise.all(Array.from({ length: 100 }, () => c.incr('nr:p')));
    assert.deepEqual(inOrder, Array.from({ length: 100 }, (_, i) => i + 1), 'pipelined INCR replies');
  } finally {
    await c.quit().catch(() => c.disconnect());
  }
}

for (const [name, run] of [['ioredis', ioredis], ['node-redis', nodeRedis]]) {
  try {
    await run();
    console.log(`${name}: ok`);
  } catch (err) {
    console.error(`${name}: ${err.stack || err}`);
    process.exit(1);
  }
}
