--[[
  Applies one metering update (a WS heartbeat or a REST metrics update): the DESIGN §3 clamp rule.
    1. Refuse if the session is unknown, ending, owned by another socket, paused (REST), over its rate,
       or names a lecture the course does not have. A refused update changes nothing.
    2. elapsed = now − last_ms (Redis TIME). credit = 0 unless playing; else
       min(claimed − billed (≥ 0, or elapsed when no claim), elapsed, credit_max, max_ms − billed).
    3. billed_ms += credit (never decreases), credited to the reported lecture; last_ms = now.
    4. Flag a low-funds warning once; end the session (funds_exhausted) when billed reaches max_ms.

  Input:
    KEYS[1] session hash          sess:{id}
    KEYS[2] lecture progress hash sess:{id}:lectures
    ARGV[1] socket id of the sender, or '' for REST
    ARGV[2] 1 if the interval since the previous update was playing, else 0
    ARGV[3] client's cumulative duration claim in ms, or -1 for none
    ARGV[4] current lecture id
    ARGV[5] completion percent (decimal text)
    ARGV[6] largest credit per update, ms
    ARGV[7] updates allowed per one-second window
    ARGV[8] warn when this many billable ms remain

  Output:
    { 0, billed_ms, locked, price, max_ms, pct, lecture, warn (0|1), exhausted (0|1), credit_ms }
    -1 unknown session   -2 session ending   -3 socket replaced   -4 rate limited
    -5 unknown lecture   -7 paused (REST update while the player's socket is gone)
]]
local s = redis.call('HMGET', KEYS[1], 'status', 'owner', 'billed_ms', 'last_ms', 'max_ms', 'rl_sec', 'rl_n', 'warned', 'locked', 'price')
local status, owner = s[1], s[2]
-- Every live session hash has a status: none means no hash (one HMGET instead of EXISTS + HMGET on the hot path).
if not status then return -1 end
if status == 'ending' then return -2 end
if ARGV[1] ~= '' and owner ~= ARGV[1] then return -3 end
if ARGV[1] == '' and status ~= 'active' then return -7 end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local sec = math.floor(now / 1000)
local rl_n = 0
if tonumber(s[6]) == sec then rl_n = tonumber(s[7]) end
if rl_n >= tonumber(ARGV[7]) then return -4 end

local lecture = ARGV[4]
if redis.call('HEXISTS', KEYS[2], lecture) == 0 then return -5 end

local billed = tonumber(s[3])
local last = tonumber(s[4])
local max_ms = tonumber(s[5])
local elapsed = math.max(0, now - last)
local credit = 0
if ARGV[2] == '1' then
  local claimed = tonumber(ARGV[3])
  local claimed_delta = elapsed
  if claimed >= 0 then claimed_delta = math.max(0, claimed - billed) end
  credit = math.min(claimed_delta, elapsed, tonumber(ARGV[6]), max_ms - billed)
  credit = math.max(0, credit)
end
local new_billed = billed + credit
if new_billed < billed then
  return redis.error_reply('invariant: billed_ms decreased')
end

redis.call('HSET', KEYS[1], 'billed_ms', new_billed, 'last_ms', now, 'seen_ms', now,
  'pct', ARGV[5], 'lecture', lecture, 'rl_sec', sec, 'rl_n', rl_n + 1)
if credit > 0 then redis.call('HINCRBY', KEYS[2], lecture, credit) end

local warn = 0
if s[8] ~= '1' and max_ms - new_billed <= tonumber(ARGV[8]) and new_billed < max_ms then
  warn = 1
  redis.call('HSET', KEYS[1], 'warned', 1)
end
local exhausted = 0
if new_billed >= max_ms then
  exhausted = 1
  redis.call('HSET', KEYS[1], 'status', 'ending', 'end_reason', 'funds_exhausted', 'ended_ms', now, 'owner', '')
end
return { 0, new_billed, s[9], s[10], max_ms, ARGV[5], lecture, warn, exhausted, credit }
