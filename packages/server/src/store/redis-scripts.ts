// The Lua run inside Redis, and the key, record and message formats it shares with redis.ts.
// A script runs atomically, so a commit is one step whatever the number of replicas.

/** Every key and the channel live under the prefix, so several environments can share one Redis. */
export function redisKeys(prefix: string) {
  return {
    /** The global change counter: the seq of every change and audit event. */
    seq: `${prefix}seq`,
    /** Hash: flag key → record. */
    flags: `${prefix}flags`,
    /** Hash: token id → record. */
    tokens: `${prefix}tokens`,
    /**
     * Hash: segment key → record of its head (the segment without its members, SegmentHead), with the
     * seq and version like a flag's. The members are in two sets per segment (segmentMemberKeys).
     */
    segments: `${prefix}segments`,
    /** Sorted set: deleted segment key, scored by its last version (as flagTombstones: a segment and a flag may share a key). */
    segmentTombstones: `${prefix}segment-tombstones`,
    /** As flagVersionFloor, for segments. */
    segmentVersionFloor: `${prefix}segment-version-floor`,
    /** Sorted set: deleted flag key, scored by its last version; a re-created flag continues from it. */
    flagTombstones: `${prefix}flag-tombstones`,
    /** The highest version among tombstones dropped past the cap: keys without one continue from it. */
    flagVersionFloor: `${prefix}flag-version-floor`,
    /** Stream of audit events, entry id `<seq>-0`, capped at AUDIT_MAX_EVENTS and AUDIT_MAX_BYTES. */
    audit: `${prefix}audit`,
    /** Bytes of the audit events the stream holds (their JSON), for the byte cap. */
    auditBytes: `${prefix}audit-bytes`,
    /**
     * The store's identity: a random id written when the store is first used (or, for a store
     * from before issue 15, first loaded). Gone or changed, the data is no longer the data the
     * replicas synced from (FLUSHALL, a restart without persistence, a restore, a failover).
     */
    epoch: `${prefix}epoch`,
    /**
     * Set: the epochs a reseed (or an accepted loss) replaced with the current one. A replica of one
     * of them adopts the current epoch and its state; any other epoch is a store it never knew.
     */
    epochParents: `${prefix}epoch-parents`,
    /**
     * The key of the notifications' HMAC: random, written with the epoch. Whoever may only PUBLISH on
     * the channel cannot read it, so cannot make a notification a replica applies without asking Redis.
     */
    noteKey: `${prefix}note-key`,
    /** Sorted set: live replica id → when its heartbeat expires (ms, Redis clock). */
    replicas: `${prefix}replicas`,
    /** Hash: replica id → `<ms of its last heartbeat> <heartbeat JSON>`; beats never touch the seq. */
    replicaBeats: `${prefix}replica-beats`,
    /** Pub/sub channel: one message per commit, `<kind> <seq> <key or id> <origin> <epoch> <ms>`. */
    changes: `${prefix}changes`,
    /** The fencing tokens of leases: every new holder of any lease takes the next. */
    leaseTokens: `${prefix}lease-tokens`,
  }
}

/** Lease `name`: `<token> <holder's instance id>`, expiring (PX) unless its holder renews it. */
export function leaseKey(prefix: string, name: string): string {
  return `${prefix}lease:${name}`
}

/** Hash: the notes of lease `name`'s holders, field → value (Store.noteLease). */
export function leaseNotesKey(prefix: string, name: string): string {
  return `${prefix}lease-notes:${name}`
}

/**
 * Takes a lease no one holds, or renews it for its holder. KEYS: the lease, the token counter.
 * ARGV: holder, TTL ms. Returns the holder's fencing token, or 0 when another holds the lease.
 */
export const LEASE_SCRIPT = `
local held = redis.call('GET', KEYS[1])
if held then
  local token, holder = string.match(held, '^(%d+) (.*)$')
  if holder ~= ARGV[1] then return 0 end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(token)
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ' ' .. ARGV[1], 'PX', ARGV[2])
return token
`

/** Gives a lease up when it is still `<token> <holder>` (ARGV[1]). KEYS: the lease. */
export const RELEASE_LEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`
export type RedisKeys = ReturnType<typeof redisKeys>

/**
 * The two sets of a segment's member ids, `<prefix>segment-users:<key>` and `<prefix>segment-tenants:<key>`
 * (`prefix` as redisKeys takes it: with its hash tag in a Cluster, so they share the store's slot).
 */
export function segmentMemberKeys(prefix: string, key: string): { users: string; tenants: string } {
  return { users: `${prefix}segment-users:${key}`, tenants: `${prefix}segment-tenants:${key}` }
}

/**
 * Member ids a script adds or removes with one SADD or SREM: Lua's unpack() fails past about 8,000
 * values, and smaller batches keep each command's argument vector small.
 */
export const MEMBER_BATCH = 5000

/**
 * A record is its document wrapped with the seq that wrote it (and, for flags, the version the
 * script checks): `{"seq":7,"version":3,"doc":{…}}`. The script builds it by concatenation so
 * it never decodes a document that may hold 20,000 ids.
 */
export interface StoredRecord<T> {
  seq: number
  version?: number
  doc: T
}

export function parseRecord<T>(text: string): StoredRecord<T> {
  return JSON.parse(text) as StoredRecord<T>
}

/**
 * A notification: `<kind> <seq> <id> <origin> <epoch> <ms> <mac>`, and for a flag the record as
 * stored on a second line (empty for a delete). A segment's note has the record of its head on the
 * second line (empty for a delete) and its MembersChange as JSON on a third: the change of its
 * members, never the members whole; a third line that is empty means the change was too large to
 * carry (SEGMENT_NOTE_MAX_BYTES), and the note is a hint (its second line is empty too). `origin` is the committing replica's instance id, so
 * it can skip its own notifications; `ms` is when the commit ran (Redis's clock), for the
 * propagation histogram; `mac` is HMAC-SHA1 of everything else, keyed by `<prefix>note-key`.
 * Anyone allowed to PUBLISH on the channel could send a notification, so a replica applies the
 * record inline only when the MAC holds, the epoch is its own and the seq is past any it has seen
 * (redis.ts, onMessage); anything else is a hint it checks against Redis. Servers before issue 15
 * sent the record unauthenticated; without a MAC it is ignored.
 */
export interface ChangeNote {
  kind: 'flag' | 'token' | 'segment'
  seq: number
  id: string
  origin: string
  /** Absent from servers before issue 15. */
  epoch?: string
  /** When the commit ran, ms on Redis's clock; absent from servers before issue 15. */
  committedAtMs?: number
  /** HMAC-SHA1 (hex) of `signed`, keyed by the store's note key. */
  mac?: string
  /** What the MAC covers: the header without it, a newline and the record line. */
  signed?: string
  /** The stored record of a flag or a segment's head (`{"seq",…,"doc"}`), '' for a delete or a token. */
  record?: string
  /** A segment's MembersChange as JSON; '' when the note does not carry it (a hint). */
  members?: string
}

/**
 * Past this many bytes (the head's record and the MembersChange, as JSON) a segment's note carries
 * neither: it is a hint, and each replica reads the segment from Redis. Pub/sub holds a message
 * for every subscriber until it reads it; a few large ones back to back would reach Redis's
 * client-output-buffer-limit for pubsub (8 MB for 60 s by default) and cut the subscribers off.
 */
export const SEGMENT_NOTE_MAX_BYTES = 4 * 1024 * 1024

export function parseMessage(message: string): ChangeNote | undefined {
  const m = /^((flag|token|segment) (\d{1,15}) ([^\s]+) ([^\s]+)(?: ([^\s]+))?(?: (\d{1,15}))?)(?: ([0-9a-f]{40}))?(?:\n([\s\S]*))?$/.exec(message)
  if (!m) return undefined
  const note: ChangeNote = { kind: m[2] as ChangeNote['kind'], seq: Number(m[3]), id: m[4]!, origin: m[5]!, epoch: m[6] }
  if (m[7] !== undefined) note.committedAtMs = Number(m[7])
  if (m[8] !== undefined) {
    note.mac = m[8]
    const body = m[9] ?? ''
    note.signed = `${m[1]}\n${body}`
    if (note.kind === 'segment') {
      // A record's JSON holds no raw newline: the first one ends it.
      const end = body.indexOf('\n')
      note.record = end < 0 ? body : body.slice(0, end)
      note.members = end < 0 ? '' : body.slice(end + 1)
    } else note.record = body
  }
  return note
}

/**
 * What a replica checks a notification against, in one atomic read: the record it names, the
 * change counter, the epoch and the audit entry at the note's seq (its `flag` and `event` fields).
 * KEYS: records hash, seq, epoch, audit stream. ARGV: id, seq.
 */
export const NOTE_SCRIPT = `
local entry = redis.call('XRANGE', KEYS[4], ARGV[2] .. '-0', ARGV[2] .. '-0')[1]
local fields = {}
if entry then fields = entry[2] end
return {redis.call('HGET', KEYS[1], ARGV[1]), redis.call('GET', KEYS[2]), redis.call('GET', KEYS[3]), fields}
`

/**
 * HMAC-SHA1 in Lua (RFC 2104) over Redis's sha1hex: the notification's MAC (ChangeNote). Most of
 * its cost is building the pads, a bit.bxor call per byte: only the key's own bytes are XORed (the
 * zero padding after them XORs to a run of '6' or '\\'), read and written in one call each.
 */
const HMAC_SHA1 = `
local function unhex(h) return (string.gsub(h, '..', function(cc) return string.char(tonumber(cc, 16)) end)) end
local function hmac(key, message)
  if #key > 64 then key = unhex(redis.sha1hex(key)) end
  local inner, outer = {string.byte(key, 1, -1)}, {}
  for i = 1, #key do
    local b = inner[i]
    inner[i], outer[i] = bit.bxor(b, 0x36), bit.bxor(b, 0x5c)
  end
  inner = string.char(unpack(inner)) .. string.rep('6', 64 - #key)
  outer = string.char(unpack(outer)) .. string.rep('\\\\', 64 - #key)
  return redis.sha1hex(outer .. unhex(redis.sha1hex(inner .. message)))
end
`

/**
 * KEYS: seq, records hash, audit stream, audit bytes, tombstones, version floor (a flag's, or a
 *       segment's), epoch, note key; for a segment also its two member sets (users, tenants).
 * ARGV: kind ('flag', 'token', 'segment'), id, expected version ('' = none, for tokens), next version ('' for tokens),
 *       next document ('' = delete; a segment's head), audit event, its flag ('' = none), its actor, audit cap,
 *       channel, deadline (ms, Redis clock), origin (the committing replica's instance id),
 *       audit byte cap, tombstone cap, the store epoch the replica synced from, the highest seq it has seen,
 *       how to announce the commit: 'PUBLISH', 'SPUBLISH' (a Cluster's sharded pub/sub) or '' (the
 *       replica sends it once Redis replicas hold the write: REDIS_WAIT_REPLICAS);
 *       for a segment then: the members' op ('same', 'replace', 'replace-users', 'replace-tenants' (one list
 *       replaced, the other kept), 'edit'), the MembersChange as JSON for
 *       the note ('' = too large to carry: the note is a hint), how many user ids and tenant ids to
 *       remove, how many user ids and tenant ids to add, and those ids in that order ('replace' adds
 *       to empty sets; a delete empties them whatever its op).
 * Returns {seq} once committed ({seq, notification} when the replica is to send it), {0, current record or nil, last version} when the version check
 * fails (the last version: with no record, what a create must continue from), or {-1} when Redis
 * reached it after the deadline, or {-2, epoch or nil} when the store is not the one the replica
 * synced from (its epoch is gone or another), or {-3, counter} when the counter is below the
 * highest seq the replica has seen: nothing is written into a store that lost data. A fenced flag
 * write has a ninth key, its lease, and ARGV[18], the `<token> <holder>` it must still hold: else {-4}.
 */
export const COMMIT_SCRIPT = `${HMAC_SHA1}
local kind, id, expected, version, doc = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

-- The replica stops waiting after its command timeout and answers 503; a write Redis gets to
-- later (it was paused, or busy) must then change nothing, or the 503 would be a lie.
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
if nowMs > tonumber(ARGV[11]) then return {-1} end
local epoch = redis.call('GET', KEYS[7])
if epoch ~= ARGV[15] then return {-2, epoch} end
-- A counter below a seq the replica has seen: Redis lost writes (restored from an older copy);
-- writing now would issue a seq a second time.
local counter = tonumber(redis.call('GET', KEYS[1]) or '0')
if counter < tonumber(ARGV[16]) then return {-3, counter} end
-- A fenced flag write (switchyardCommitFenced): only while its lease is still the one it was made under.
if kind == 'flag' and KEYS[9] and redis.call('GET', KEYS[9]) ~= ARGV[18] then return {-4} end

local current = redis.call('HGET', KEYS[2], id)
local held = 0
local versioned = kind == 'flag' or kind == 'segment'
if current and versioned then held = tonumber(string.match(current, '^{"seq":%d+,"version":(%d+),')) end
if expected ~= '' then
  -- A deleted flag's (or segment's) key keeps its last version: a create must continue from it (or from the floor).
  local last = 0
  if not current then last = tonumber(redis.call('ZSCORE', KEYS[5], id) or redis.call('GET', KEYS[6]) or '0') end
  if held ~= tonumber(expected) then return {0, current, last} end
  if not current and doc ~= '' and tonumber(version) ~= last + 1 then return {0, current, last} end
end

-- The counter never falls behind the audit trail (say it was deleted by hand): XADD with an
-- older id would fail after the record was written, and a script is not rolled back.
local seq = counter + 1
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)[1]
if last then
  local lastSeq = tonumber(string.match(last[1], '^(%d+)-'))
  if lastSeq >= seq then seq = lastSeq + 1 end
end
redis.call('SET', KEYS[1], seq)

-- The notification names the change; a flag's record follows, authenticated (ChangeNote).
local note = kind .. ' ' .. seq .. ' ' .. id .. ' ' .. ARGV[12] .. ' ' .. ARGV[15] .. ' ' .. string.format('%d', nowMs)
local record = ''
if doc == '' then
  redis.call('HDEL', KEYS[2], id)
  -- UNLINK frees a large set in the background rather than inside the script.
  if kind == 'segment' then redis.call('UNLINK', KEYS[9], KEYS[10]) end
  if versioned and current then
    redis.call('ZADD', KEYS[5], held, id)
    -- Past the cap the lowest version goes, and raises the floor keys without a tombstone start from.
    while redis.call('ZCARD', KEYS[5]) > tonumber(ARGV[14]) do
      local dropped = redis.call('ZPOPMIN', KEYS[5])
      if tonumber(dropped[2]) > tonumber(redis.call('GET', KEYS[6]) or '0') then redis.call('SET', KEYS[6], dropped[2]) end
    end
  end
else
  if versioned and not current then redis.call('ZREM', KEYS[5], id) end
  local versionField = ''
  if version ~= '' then versionField = ',"version":' .. version end
  record = '{"seq":' .. seq .. versionField .. ',"doc":' .. doc .. '}'
  redis.call('HSET', KEYS[2], id, record)
  -- A segment's members: removals, then additions (applyMembers' order: an id in both ends a member).
  if kind == 'segment' and ARGV[18] ~= 'same' then
    if ARGV[18] == 'replace' then redis.call('UNLINK', KEYS[9], KEYS[10]) end
    if ARGV[18] == 'replace-users' then redis.call('UNLINK', KEYS[9]) end
    if ARGV[18] == 'replace-tenants' then redis.call('UNLINK', KEYS[10]) end
    local at = 24
    for i, set in ipairs({{'SREM', KEYS[9]}, {'SREM', KEYS[10]}, {'SADD', KEYS[9]}, {'SADD', KEYS[10]}}) do
      local last = at + tonumber(ARGV[19 + i]) - 1
      while at <= last do
        local upto = math.min(at + ${MEMBER_BATCH - 1}, last)
        redis.call(set[1], set[2], unpack(ARGV, at, upto))
        at = upto + 1
      end
    end
  end
end
-- The first commit under the byte cap on a trail written before it counts what is there, once.
if redis.call('EXISTS', KEYS[4]) == 0 then
  local total, from = 0, '-'
  repeat
    local entries = redis.call('XRANGE', KEYS[3], from, '+', 'COUNT', 100)
    for _, entry in ipairs(entries) do
      for i = 1, #entry[2], 2 do
        if entry[2][i] == 'event' then total = total + #entry[2][i + 1] end
      end
      from = '(' .. entry[1]
    end
  until #entries < 100
  redis.call('SET', KEYS[4], total)
end
if kind == 'segment' then
  -- The segment's key, for a replica checking a note of its deletion (NOTE_SCRIPT).
  redis.call('XADD', KEYS[3], seq .. '-0', 'flag', ARGV[7], 'actor', ARGV[8], 'event', ARGV[6], 'segment', id)
else
  redis.call('XADD', KEYS[3], seq .. '-0', 'flag', ARGV[7], 'actor', ARGV[8], 'event', ARGV[6])
end
-- Oldest first, until the trail is within both caps; the newest event always stays.
local bytes = redis.call('INCRBY', KEYS[4], #ARGV[6])
local maxEvents, maxBytes = tonumber(ARGV[9]), tonumber(ARGV[13])
local length = redis.call('XLEN', KEYS[3])
while length > 1 and (length > maxEvents or bytes > maxBytes) do
  local oldest = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)[1]
  local size = 0
  for i = 1, #oldest[2], 2 do
    if oldest[2][i] == 'event' then size = #oldest[2][i + 1] end
  end
  redis.call('XDEL', KEYS[3], oldest[1])
  bytes = redis.call('DECRBY', KEYS[4], size)
  length = length - 1
end
-- With the newest event alone left the count is its size, whatever the counter said: a stream
-- deleted by hand leaves a count behind that would otherwise trim every later trail to one event.
if length == 1 then redis.call('SET', KEYS[4], #ARGV[6])
elseif bytes < 0 then redis.call('SET', KEYS[4], 0) end
local noteKey = redis.call('GET', KEYS[8])
if noteKey then
  -- A token's record stays off the channel (it holds the hash of a secret): its note is a hint.
  if kind == 'token' then record = '' end
  local body = record
  -- A segment's head, then how its members changed; neither when the change is too large (a hint).
  if kind == 'segment' then
    if ARGV[19] == '' then body = '\\n' else body = record .. '\\n' .. ARGV[19] end
  end
  note = note .. ' ' .. hmac(noteKey, note .. '\\n' .. body) .. '\\n' .. body
end
if ARGV[17] == '' then return {seq, note} end
redis.call(ARGV[17], ARGV[10], note)
return {seq}
`

/** Drops the heartbeats whose time is up; shared by the two scripts below. KEYS[1] replicas, KEYS[2] beats. */
const DROP_EXPIRED = `
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', nowMs)) do redis.call('HDEL', KEYS[2], gone) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', nowMs)
`

/**
 * One replica's heartbeat, on Redis's clock so every replica's expiries compare. Never touches
 * the seq. KEYS: replicas, beats, seq. ARGV: id, heartbeat JSON, TTL ms. Returns the change counter.
 */
export const HEARTBEAT_SCRIPT = `${DROP_EXPIRED}
redis.call('ZADD', KEYS[1], nowMs + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], string.format('%d', nowMs) .. ' ' .. ARGV[2])
return redis.call('GET', KEYS[3])
`

/**
 * Every live heartbeat, with the store's counter, epoch and epoch parents.
 * KEYS: replicas, beats, seq, epoch, epoch parents. Returns {beats (flat hash), counter, epoch, parents}.
 */
export const FLEET_SCRIPT = `${DROP_EXPIRED}
return {redis.call('HGETALL', KEYS[2]), redis.call('GET', KEYS[3]), redis.call('GET', KEYS[4]), redis.call('SMEMBERS', KEYS[5])}
`

/**
 * The operator's recovery of a store that lost data: a new epoch, its parents (the epochs it
 * replaces, which replicas then adopt it from), a counter past every seq any replica has seen,
 * one audit event, and — for a reseed — the records a replica held, each written at the new seq;
 * accepting the loss keeps the records Redis holds. Refused ({-2, epoch}) if the store's epoch is
 * not the one the operator saw, and ({-4}) if Redis holds a segment the caller did not name (one
 * created since it looked: the caller looks again), since its member sets must be declared to go.
 * KEYS: seq, flags, tokens, audit, audit bytes, epoch, epoch parents, segments, then the member sets
 *       (users, tenants) of each segment held now, then those of each segment written.
 * ARGV: expected epoch ('' = none), new epoch, lowest seq, mode ('reseed' | 'accept'), audit event,
 *       actor, parent count, parents…, flag count, (key, version, document)…, token count, (id, document)…,
 *       held segment count, their keys…, segment count, (key, version, head, user count, tenant count,
 *       user ids…, tenant ids…)….
 * Returns {seq}.
 */
export const RESEED_SCRIPT = `
local held = redis.call('GET', KEYS[6])
if (held or '') ~= ARGV[1] then return {-2, held} end
local i = 7
local parents = tonumber(ARGV[i])
local flagsAt = i + parents + 1
local tokensAt = flagsAt + tonumber(ARGV[flagsAt]) * 3 + 1
local heldAt = tokensAt + tonumber(ARGV[tokensAt]) * 2 + 1
local heldSegments = tonumber(ARGV[heldAt])
if ARGV[4] == 'reseed' then
  local named = {}
  for s = 1, heldSegments do named[ARGV[heldAt + s]] = true end
  for _, key in ipairs(redis.call('HKEYS', KEYS[8])) do
    if not named[key] then return {-4} end
  end
end
local seq = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(ARGV[3])) + 1
local last = redis.call('XREVRANGE', KEYS[4], '+', '-', 'COUNT', 1)[1]
if last then
  local lastSeq = tonumber(string.match(last[1], '^(%d+)-'))
  if lastSeq >= seq then seq = lastSeq + 1 end
end
for p = 1, parents do redis.call('SADD', KEYS[7], ARGV[i + p]) end
if ARGV[4] == 'reseed' then
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[8])
  i = flagsAt
  for f = 0, tonumber(ARGV[i]) - 1 do
    local at = i + 1 + f * 3
    redis.call('HSET', KEYS[2], ARGV[at], '{"seq":' .. seq .. ',"version":' .. ARGV[at + 1] .. ',"doc":' .. ARGV[at + 2] .. '}')
  end
  i = tokensAt
  for t = 0, tonumber(ARGV[i]) - 1 do
    local at = i + 1 + t * 2
    redis.call('HSET', KEYS[3], ARGV[at], '{"seq":' .. seq .. ',"doc":' .. ARGV[at + 1] .. '}')
  end
  -- UNLINK frees large sets in the background.
  for k = 9, 8 + heldSegments * 2 do redis.call('UNLINK', KEYS[k]) end
  local set = 9 + heldSegments * 2
  local at = heldAt + heldSegments + 2
  for s = 1, tonumber(ARGV[at - 1]) do
    redis.call('HSET', KEYS[8], ARGV[at], '{"seq":' .. seq .. ',"version":' .. ARGV[at + 1] .. ',"doc":' .. ARGV[at + 2] .. '}')
    local users, tenants = tonumber(ARGV[at + 3]), tonumber(ARGV[at + 4])
    at = at + 5
    for _, list in ipairs({{KEYS[set], users}, {KEYS[set + 1], tenants}}) do
      redis.call('UNLINK', list[1])
      local upto = at + list[2] - 1
      while at <= upto do
        local batch = math.min(at + ${MEMBER_BATCH - 1}, upto)
        redis.call('SADD', list[1], unpack(ARGV, at, batch))
        at = batch + 1
      end
    end
    set = set + 2
  end
end
redis.call('SET', KEYS[1], seq)
redis.call('SET', KEYS[6], ARGV[2])
redis.call('XADD', KEYS[4], seq .. '-0', 'flag', '', 'actor', ARGV[6], 'event', ARGV[5])
redis.call('INCRBY', KEYS[5], #ARGV[5])
return {seq}
`
