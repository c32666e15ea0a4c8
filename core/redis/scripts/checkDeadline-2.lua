--[[
  The sweeper's look at one session whose deadline in the sorted set is due. The sorted set holds a lower bound;
  the hash holds the truth, so heartbeats never touch the sorted set.
    active:  due at seen_ms + idle_ms + grace_ms (a gateway that died without closing its sockets)
    paused:  due at paused_ms + grace_ms (the player did not come back)
    ending:  due at ended_ms + retry_ms (the settlement entry may have been lost: enqueue it again)
  A due active or paused session becomes ending with reason `disconnected`, unless disconnects are held: after the
  sweeper itself could not reach Redis, the players could not either, and their silence is not a disconnect
  (README "Redis: hangs and failovers"): it looks again when the hold ends.

  Input:
    KEYS[1] session hash          sess:{id}
    KEYS[2] lecture progress hash sess:{id}:lectures
    ARGV[1] socket idle timeout, ms
    ARGV[2] disconnect grace, ms
    ARGV[3] settlement retry, ms
    ARGV[4] disconnects held until this Redis time, ms (0: not held)

  Output:
    { 1, deadline_ms }                                                   not due: reschedule
    { 2, end_reason, billed_ms, pct, lecture, { lecture, ms, ... } }     due: enqueue a settlement
    -1                                                                   unknown session: forget the deadline
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local s = redis.call('HMGET', KEYS[1], 'status', 'seen_ms', 'paused_ms', 'ended_ms')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline
if s[1] == 'active' then
  deadline = tonumber(s[2]) + tonumber(ARGV[1]) + tonumber(ARGV[2])
elseif s[1] == 'paused' then
  deadline = tonumber(s[3]) + tonumber(ARGV[2])
else
  deadline = tonumber(s[4]) + tonumber(ARGV[3])
end
if now < deadline then return { 1, deadline } end
local held_until = tonumber(ARGV[4])
if s[1] ~= 'ending' and now < held_until then return { 1, held_until } end
if s[1] == 'ending' then
  redis.call('HSET', KEYS[1], 'ended_ms', now)
else
  redis.call('HSET', KEYS[1], 'status', 'ending', 'end_reason', 'disconnected', 'ended_ms', now, 'owner', '')
end
local f = redis.call('HMGET', KEYS[1], 'end_reason', 'billed_ms', 'pct', 'lecture')
return { 2, f[1], f[2], f[3], f[4] or '', redis.call('HGETALL', KEYS[2]) }
