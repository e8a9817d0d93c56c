/*
 * The Redis store's Lua scripts: each change of a message is one script, so it is atomic
 * (Redis runs a script alone) and a replica killed half-way leaves no half-made change.
 * Keys are built from the prefix inside the scripts, so this store needs one Redis server
 * (or a primary with replicas), not Redis Cluster.
 *
 * Layout under PREFIX:
 *   m:ID                 hash: the message
 *   s:ROUTE              stream per route, entries {id}; consumer group `bw` (the leases)
 *   delayed              zset ID → nextAttemptAt: waiting for a retry, put back on the stream when due
 *   expiry               zset ID → expiresAt of undelivered messages
 *   i:LEN:ROUTE:KEY      ID of the message with that Idempotency-Key on that route
 *   st:STATUS[:ROUTE]    zset ID → createdAt: the indexes behind counts and lists
 *   routes               set of routes that ever had a message
 */

const MOVE = `
local P = ARGV[1]
local function move(id, route, from, to, created)
  if from ~= '' then
    redis.call('ZREM', P .. ':st:' .. from, id)
    redis.call('ZREM', P .. ':st:' .. from .. ':' .. route, id)
  end
  if to ~= '' then
    redis.call('ZADD', P .. ':st:' .. to, created, id)
    redis.call('ZADD', P .. ':st:' .. to .. ':' .. route, created, id)
  end
end
local function ikey(route, key) return P .. ':i:' .. string.len(route) .. ':' .. route .. ':' .. key end
`;

/** ARGV: prefix, id, route, idempotencyKey ('' for none), createdAt, expiresAt, method, path, headers, body (base64). → {created, id} */
export const ENQUEUE = `${MOVE}
local id, route, key, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if key ~= '' then
  local existing = redis.call('GET', ikey(route, key))
  if existing and redis.call('EXISTS', P .. ':m:' .. existing) == 1 then return {0, existing} end
  redis.call('SET', ikey(route, key), id)
end
local m = P .. ':m:' .. id
redis.call('HSET', m, 'id', id, 'route', route, 'ikey', key, 'method', ARGV[7], 'path', ARGV[8], 'headers', ARGV[9], 'body', ARGV[10],
  'status', 'queued', 'attempts', 0, 'createdAt', now, 'nextAttemptAt', now, 'expiresAt', ARGV[6], 'updatedAt', now,
  'lastProblem', '', 'response', '', 'owner', '')
local entry = redis.call('XADD', P .. ':s:' .. route, '*', 'id', id)
redis.call('HSET', m, 'entry', entry)
move(id, route, '', 'queued', now)
redis.call('ZADD', P .. ':expiry', ARGV[6], id)
redis.call('SADD', P .. ':routes', route)
return {1, id}
`;

/** ARGV: prefix, route, id, entry, owner, now. A stream entry just read or taken over → 1 held, 0 dropped (stale). */
export const TAKE = `${MOVE}
local route, id, entry, owner, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local m = P .. ':m:' .. id
local s = P .. ':s:' .. route
local st = redis.call('HMGET', m, 'status', 'entry', 'createdAt')
if not st[1] or st[2] ~= entry or (st[1] ~= 'queued' and st[1] ~= 'delivering') then
  redis.call('XACK', s, 'bw', entry)
  redis.call('XDEL', s, entry)
  return 0
end
if st[1] == 'queued' then move(id, route, 'queued', 'delivering', st[3]) end
redis.call('HSET', m, 'status', 'delivering', 'owner', owner, 'updatedAt', now)
return 1
`;

/** ARGV: prefix, route, entry, owner. → 1 when the hold is still this owner's (its idle time is reset), else 0. */
export const RENEW = `
local s = ARGV[1] .. ':s:' .. ARGV[2]
local pend = redis.call('XPENDING', s, 'bw', ARGV[3], ARGV[3], 1)
if #pend == 0 or pend[1][2] ~= ARGV[4] then return 0 end
redis.call('XCLAIM', s, 'bw', ARGV[4], 0, ARGV[3], 'JUSTID')
return 1
`;

/** ARGV: prefix, route, id, entry, owner, status, attempts, nextAttemptAt, lastProblem, response, now. → 1 recorded, 0 hold lost. */
export const SETTLE = `${MOVE}
local route, id, entry, owner, status, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[11]
local m = P .. ':m:' .. id
local s = P .. ':s:' .. route
local pend = redis.call('XPENDING', s, 'bw', entry, entry, 1)
if #pend == 0 or pend[1][2] ~= owner then return 0 end
local st = redis.call('HMGET', m, 'status', 'createdAt', 'entry')
redis.call('XACK', s, 'bw', entry)
redis.call('XDEL', s, entry)
if st[1] ~= 'delivering' or st[3] ~= entry then return 0 end
if status == 'queued' then
  redis.call('HSET', m, 'status', 'queued', 'attempts', ARGV[7], 'nextAttemptAt', ARGV[8], 'lastProblem', ARGV[9], 'entry', '', 'owner', '', 'updatedAt', now)
  redis.call('ZADD', P .. ':delayed', ARGV[8], id)
else
  redis.call('HSET', m, 'status', status, 'attempts', ARGV[7], 'nextAttemptAt', '', 'lastProblem', ARGV[9], 'response', ARGV[10], 'entry', '', 'owner', '', 'updatedAt', now)
  redis.call('ZREM', P .. ':expiry', id)
end
move(id, route, 'delivering', status, st[2])
return 1
`;

/** ARGV: prefix, now. Messages whose retry wait is over go back on their route's stream. → how many */
export const PROMOTE = `
local P, now = ARGV[1], ARGV[2]
local ids = redis.call('ZRANGEBYSCORE', P .. ':delayed', '-inf', now, 'LIMIT', 0, 500)
for _, id in ipairs(ids) do
  redis.call('ZREM', P .. ':delayed', id)
  local m = P .. ':m:' .. id
  local st = redis.call('HMGET', m, 'status', 'route')
  if st[1] == 'queued' then
    local entry = redis.call('XADD', P .. ':s:' .. st[2], '*', 'id', id)
    redis.call('HSET', m, 'entry', entry)
  end
end
return #ids
`;

/** ARGV: prefix, now. Queued messages past expiresAt become dead. → their ids */
export const EXPIRE = `${MOVE}
local now = ARGV[2]
local ids = redis.call('ZRANGEBYSCORE', P .. ':expiry', '-inf', now, 'LIMIT', 0, 500)
local out = {}
for _, id in ipairs(ids) do
  local m = P .. ':m:' .. id
  local st = redis.call('HMGET', m, 'status', 'route', 'createdAt', 'attempts', 'entry')
  if not st[1] then
    redis.call('ZREM', P .. ':expiry', id)
  elseif st[1] == 'queued' then
    redis.call('ZREM', P .. ':expiry', id)
    redis.call('ZREM', P .. ':delayed', id)
    if st[5] and st[5] ~= '' then redis.call('XDEL', P .. ':s:' .. st[2], st[5]) end
    local problem = cjson.encode({code = 'TTL_EXPIRED', detail = 'The message was not delivered within its route\\'s ttlMs (' .. st[4] .. ' attempts).', at = tonumber(now)})
    redis.call('HSET', m, 'status', 'dead', 'nextAttemptAt', '', 'lastProblem', problem, 'entry', '', 'updatedAt', now)
    move(id, st[2], 'queued', 'dead', st[3])
    table.insert(out, id)
  end
end
return out
`;

/** ARGV: prefix, id, now, expiresAt. A dead or rejected message is queued again. → its status before, or '' when none */
export const RETRY = `${MOVE}
local id, now = ARGV[2], ARGV[3]
local m = P .. ':m:' .. id
local st = redis.call('HMGET', m, 'status', 'route', 'createdAt')
if not st[1] then return '' end
if st[1] ~= 'dead' and st[1] ~= 'rejected' then return st[1] end
local entry = redis.call('XADD', P .. ':s:' .. st[2], '*', 'id', id)
redis.call('HSET', m, 'status', 'queued', 'attempts', 0, 'nextAttemptAt', now, 'expiresAt', ARGV[4], 'response', '', 'entry', entry, 'updatedAt', now)
redis.call('ZADD', P .. ':expiry', ARGV[4], id)
move(id, st[2], st[1], 'queued', st[3])
return st[1]
`;

const REMOVE_ONE = `
local function remove(id)
  local m = P .. ':m:' .. id
  local st = redis.call('HMGET', m, 'status', 'route', 'ikey', 'entry')
  if not st[1] then return 0 end
  local s = P .. ':s:' .. st[2]
  if st[4] and st[4] ~= '' then
    pcall(redis.call, 'XACK', s, 'bw', st[4])
    redis.call('XDEL', s, st[4])
  end
  redis.call('ZREM', P .. ':delayed', id)
  redis.call('ZREM', P .. ':expiry', id)
  move(id, st[2], st[1], '', 0)
  if st[3] and st[3] ~= '' and redis.call('GET', ikey(st[2], st[3])) == id then redis.call('DEL', ikey(st[2], st[3])) end
  redis.call('DEL', m)
  return 1
end
`;

/** ARGV: prefix, before. Delivered and rejected messages accepted before `before` are deleted. → how many */
export const PURGE = `${MOVE}${REMOVE_ONE}
local n = 0
for _, status in ipairs({'delivered', 'rejected'}) do
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':st:' .. status, '-inf', '(' .. ARGV[2], 'LIMIT', 0, 500)) do n = n + remove(id) end
end
return n
`;

/** ARGV: prefix, id. → 1 deleted, 0 none */
export const REMOVE = `${MOVE}${REMOVE_ONE}
return remove(ARGV[2])
`;
