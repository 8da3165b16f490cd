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

async function ioredis() {
  const c = new Redis({ host, port: Number(port), password, maxRetriesPerRequest: 0, lazyConnect: true });
  await c.connect();
  try {
    assert.equal(await c.ping(), 'PONG');
    assert.match(await c.info(), /redis_version:/);
    assert.equal(await c.incrby('io:a', 5), 5);
    assert.equal(await c.incr('io:a'), 6);
    assert.equal(await c.decr('io:a'), 5);
    assert.equal(await c.decrby('io:a', 3), 2);
    assert.equal(await c.get('io:a'), '2');
    assert.deepEqual(await c.mget('io:a', 'io:none'), ['2', null]);
    assert.equal(shardSum(await c.call('SHARDVALUES', 'io:a')), 2);

    // A pipeline: every reply in order.
    const p = c.pipeline();
    for (let i = 0; i < 100; i++) p.incr('io:p');
    const replies = await p.exec();
    assert.deepEqual(replies, Array.from({ length: 100 }, (_, i) => [null, i + 1]), 'pipeline replies');

    // Concurrent increments of one key: unique, consecutive replies.
    const got = await Promise.all(Array.from({ length: 200 }, () => c.incr('io:c')));
    assert.deepEqual(got.slice().sort((x, y) => x - y), Array.from({ length: 200 }, (_, i) => i + 1), 'concurrent INCR replies');

    assert.equal(await c.set('io:s', 42), 'OK');
    assert.equal(await c.get('io:s'), '42');
    assert.equal(await c.exists('io:s'), 1);
    assert.equal(await c.del('io:s'), 1);
    assert.equal(await c.get('io:s'), null);

    await rejects(c.incrby('io:a', 'abc'), notInteger, 'INCRBY with a bad delta');
    assert.equal(await c.set('io:max', maxInt64), 'OK');
    await rejects(c.incr('io:max'), overflow, 'INCR at the int64 maximum');
    await rejects(c.call('NOSUCH'), /^ERR unknown command 'NOSUCH'/, 'an unknown command');
    assert.equal(await c.get('io:a'), '2', 'errors changed nothing');
  } finally {
    c.disconnect();
  }
}

async function nodeRedis() {
  const c = createClient({ url: `redis://${host}:${port}`, password });
  c.on('error', () => {});
  await c.connect();
  try {
    assert.equal(await c.ping(), 'PONG');
    assert.match(await c.info(), /redis_version:/);
    assert.equal(await c.incrBy('nr:a', 5), 5);
    assert.equal(await c.incr('nr:a'), 6);
    assert.equal(await c.decr('nr:a'), 5);
    assert.equal(await c.decrBy('nr:a', 3), 2);
    assert.equal(await c.get('nr:a'), '2');
    assert.deepEqual(await c.mGet(['nr:a', 'nr:none']), ['2', null]);
    assert.equal(shardSum(await c.sendCommand(['SHARDVALUES', 'nr:a'])), 2);

    // Commands sent in one tick go out as one pipeline: replies in order.
    const inOrder = await Promise.all(Array.from({ length: 100 }, () => c.incr('nr:p')));
    assert.deepEqual(inOrder, Array.from({ length: 100 }, (_, i) => i + 1), 'pipelined INCR replies');

    assert.equal(await c.set('nr:s', '42'), 'OK');
    assert.equal(await c.get('nr:s'), '42');
    assert.equal(await c.exists('nr:s'), 1);
    assert.equal(await c.del('nr:s'), 1);
    assert.equal(await c.get('nr:s'), null);

    await rejects(c.sendCommand(['INCRBY', 'nr:a', 'abc']), notInteger, 'INCRBY with a bad delta');
    assert.equal(await c.set('nr:max', maxInt64), 'OK');
    await rejects(c.incr('nr:max'), overflow, 'INCR at the int64 maximum');
    await rejects(c.sendCommand(['NOSUCH']), /^ERR unknown command 'NOSUCH'/, 'an unknown command');
    assert.equal(await c.get('nr:a'), '2', 'errors changed nothing');
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
