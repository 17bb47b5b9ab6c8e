#!lua name=pulse_v1

--[[
Pulse's Redis Functions. Every call touches one shard: KEYS[1] is the shard's key prefix, a
hash tag such as "{pulse:clickstream:3}", and every key read or written starts with it, so a
call stays in one Redis Cluster hash slot. Integers travel as strings (Lua numbers are doubles).

Keys under a shard prefix P:
  P:ver                    version, incremented by every applied commit
  P:fence                  hash: source "<topic identity>|<partition>" -> last applied offset
  P:dd:<hour>              set of 8-byte event-id fingerprints, by event-time hour
  P:st:<key>               an entity's state (JSON)
  P:c:<width>:<start>      hash: the counters of one bucket (P:c:0:0: totals, no expiry)
  P:q:<width>:<start>:<n>  sorted set: the samples of distribution <n> in one bucket (member -> value)
  P:z:<n>                  sorted set: the snapshot series <n> (score ts, member "ts:value")
  P:zs                     set of the series names
  P:h:<width>:<start>:<n>  HyperLogLog: the unique set <n> of one bucket
  P:lab:<label>            sorted set: admitted label value -> last seen ms
  P:labs                   set of the label names that have a P:lab key
  P:pipe                   hash: pipeline counters, gauges and maxima
]]

local CHUNK = 1000  -- unpack() limit headroom

-- The n 8-byte fingerprints of blob from pos on, and the position after them.
local function fingerprints(blob, pos, n)
  local fps = {}
  for i = 1, n do
    fps[i] = string.sub(blob, pos, pos + 7)
    pos = pos + 8
  end
  return fps, pos
end

-- SADD or PFADD of many members, CHUNK at a time (unpack() has a limit).
local function add_in_chunks(command, key, members)
  for i = 1, #members, CHUNK do
    redis.call(command, key, unpack(members, i, math.min(i + CHUNK - 1, #members)))
  end
end

-- pulse_snapshot: what a batch needs to be computed. Read only.
-- ARGV[1] source, ARGV[2] cached version ("" for none), ARGV[3] fingerprints (8 bytes each),
-- ARGV[4] JSON [[hour, n], ...] (how many fingerprints of the blob belong to each hour),
-- ARGV[5..] state keys.
-- Returns {version, fence, "0"|"1" per fingerprint (one string), {state or nil per key}, labels or nil};
-- labels is {label, {value, last_seen, ...}, ...}, sent only when the version differs.
local function pulse_snapshot(keys, args)
  local p = keys[1]
  local version = redis.call('GET', p .. ':ver') or '0'
  local fence = redis.call('HGET', p .. ':fence', args[1]) or '-1'
  local blob, pos, seen = args[3], 1, {}
  for _, b in ipairs(cjson.decode(args[4])) do
    local key = p .. ':dd:' .. b[1]
    local fps
    fps, pos = fingerprints(blob, pos, tonumber(b[2]))
    for i = 1, #fps, CHUNK do
      local flags = redis.call('SMISMEMBER', key, unpack(fps, i, math.min(i + CHUNK - 1, #fps)))
      seen[#seen + 1] = table.concat(flags)
    end
  end
  local states = {}
  for i = 5, #args do
    states[#states + 1] = redis.call('GET', p .. ':st:' .. args[i]) or false
  end
  local labels = false
  if args[2] ~= version then
    labels = {}
    for _, label in ipairs(redis.call('SMEMBERS', p .. ':labs')) do
      labels[#labels + 1] = label
      labels[#labels + 1] = redis.call('ZRANGE', p .. ':lab:' .. label, 0, -1, 'WITHSCORES')
    end
  end
  return {version, fence, table.concat(seen), states, labels}
end

local function incr_fields(key, fields)
  for i = 1, #fields, 2 do
    if redis.call('HINCRBY', key, fields[i], fields[i + 1]) == 0 then
      redis.call('HDEL', key, fields[i])
    end
  end
end

-- pulse_commit: apply one batch atomically, or nothing.
-- ARGV[1] JSON payload (see RedisStore._payload), ARGV[2] fingerprints (8 bytes each),
-- ARGV[3] the entity states end to end (the payload's s: [key, size or -1 to delete, expire at]).
-- Returns {"ok", new version} | {"conflict", version} | {"fenced", version}.
local function pulse_commit(keys, args)
  local p = keys[1]
  local c = cjson.decode(args[1])
  local version = redis.call('GET', p .. ':ver') or '0'
  if version ~= c.v then
    return {'conflict', version}
  end
  local fence = redis.call('HGET', p .. ':fence', c.src)
  if fence and tonumber(fence) >= tonumber(c.off) then
    return {'fenced', version}
  end
  local blob, pos = args[2], 1
  for _, b in ipairs(c.dd) do
    local key = p .. ':dd:' .. b[1]
    local fps
    fps, pos = fingerprints(blob, pos, tonumber(b[2]))
    add_in_chunks('SADD', key, fps)
    redis.call('PEXPIREAT', key, c.ddx)
  end
  local states, at = args[3], 1
  for _, s in ipairs(c.s) do
    local key, size = p .. ':st:' .. s[1], tonumber(s[2])
    if size >= 0 then
      redis.call('SET', key, string.sub(states, at, at + size - 1), 'PXAT', s[3])
      at = at + size
    else
      redis.call('DEL', key)
    end
  end
  for _, b in ipairs(c.c) do
    local key = p .. ':c:' .. b[1]
    incr_fields(key, b[3])
    if b[2] ~= '0' then
      redis.call('PEXPIREAT', key, b[2])
    end
  end
  for _, q in ipairs(c.q) do
    local key, f = p .. ':q:' .. q[1], q[3]
    for i = 1, #f, 2 do
      if f[i + 1] then
        redis.call('ZADD', key, f[i + 1], f[i])
      else
        redis.call('ZREM', key, f[i])
      end
    end
    redis.call('PEXPIREAT', key, q[2])
  end
  for _, z in ipairs(c.z) do
    local key, pts = p .. ':z:' .. z[1], z[2]
    redis.call('SADD', p .. ':zs', z[1])
    for i = 1, #pts, 2 do
      redis.call('ZREMRANGEBYSCORE', key, pts[i], pts[i])
      redis.call('ZADD', key, pts[i], pts[i] .. ':' .. pts[i + 1])
    end
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. c.zk)
  end
  for _, h in ipairs(c.h) do  -- [name, [[width:start, expire at], ...], members]: one set per bucket
    local buckets, name = h[2], h[1]
    if type(buckets) ~= 'table' then  -- a worker before 2026-12-03: [width:start:name, expire at, members]
      buckets, name = {{h[1], h[2]}}, nil
    end
    for _, b in ipairs(buckets) do
      local key = p .. ':h:' .. b[1] .. (name and ':' .. name or '')
      add_in_chunks('PFADD', key, h[3])
      redis.call('PEXPIREAT', key, b[2])
    end
  end
  -- releases first: a value released and admitted again in one batch stays admitted
  for _, l in ipairs(c.lr) do
    for i = 1, #l[2], CHUNK do
      redis.call('ZREM', p .. ':lab:' .. l[1], unpack(l[2], i, math.min(i + CHUNK - 1, #l[2])))
    end
  end
  for _, l in ipairs(c.lt) do
    redis.call('SADD', p .. ':labs', l[1])
    local key, pairs_ = p .. ':lab:' .. l[1], l[2]
    for i = 1, #pairs_, 2 do
      redis.call('ZADD', key, pairs_[i + 1], pairs_[i])
    end
  end
  local pipe = p .. ':pipe'
  incr_fields(pipe, c.pc)
  for i = 1, #c.pg, 2 do
    redis.call('HSET', pipe, c.pg[i], c.pg[i + 1])
  end
  for i = 1, #c.pm, 2 do
    local current = redis.call('HGET', pipe, c.pm[i])
    if not current or tonumber(current) < tonumber(c.pm[i + 1]) then
      redis.call('HSET', pipe, c.pm[i], c.pm[i + 1])
    end
  end
  redis.call('HSET', p .. ':fence', c.src, c.off)
  return {'ok', redis.call('INCR', p .. ':ver')}
end

redis.register_function{function_name = 'pulse_snapshot', callback = pulse_snapshot,
                        flags = {'no-writes'}}
redis.register_function('pulse_commit', pulse_commit)
