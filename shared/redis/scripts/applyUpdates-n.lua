--[[
  Applies a batch of metering updates (WS heartbeats, or one REST metrics update), each by the DESIGN §3 clamp rule,
  in order, at one instant (one TIME per call). Each update is judged alone, exactly as if it were the only one:
    1. Refuse if the session is unknown, ending, owned by another socket, paused (REST), over its rate,
       or names a lecture the course does not have. A refused update changes nothing; the others go on.
    2. elapsed = now − last_ms. credit = 0 unless playing; else
       min(claimed − billed (≥ 0, or elapsed when no claim), elapsed, credit_max, max_ms − billed).
    3. billed_ms += credit (never decreases), credited to the reported lecture; last_ms = now.
    4. Flag a low-funds warning once; end the session (funds_exhausted) when billed reaches max_ms.
  Two updates of one session in one call are applied one after the other: the second sees elapsed = 0.
  Every key of one call must share one Cluster slot (the caller groups updates by slot).

  Input (numkeys = 2 × updates, given by the caller):
    KEYS[2i−1] session hash          sess:{id} of update i
    KEYS[2i]   lecture progress hash sess:{id}:lectures of update i
    ARGV[1] largest credit per update, ms
    ARGV[2] updates allowed per one-second window
    ARGV[3] warn when this many billable ms remain
    then five per update i, from ARGV[5i−1]:
      socket id of the sender, or '' for REST
      1 if the interval since the previous update was playing, else 0
      client's cumulative duration claim in ms, or -1 for none
      current lecture id
      completion percent (decimal text)

  Output: one reply per update, in order:
    { billed_ms, credit_ms, warn (0|1), exhausted (0|1), locked, price, max_ms }
    -1 unknown session   -2 session ending   -3 socket replaced   -4 rate limited
    -5 unknown lecture   -7 paused (REST update while the player's socket is gone)
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local sec = math.floor(now / 1000)
local credit_max = tonumber(ARGV[1])
local rate_max = tonumber(ARGV[2])
local warn_ms = tonumber(ARGV[3])

local function apply(sk, lk, a)
  local socket = ARGV[a]
  local s = redis.call('HMGET', sk, 'status', 'owner', 'billed_ms', 'last_ms', 'max_ms', 'rl_sec', 'rl_n', 'warned', 'locked', 'price')
  local status = s[1]
  -- Every live session hash has a status: none means no hash (one HMGET instead of EXISTS + HMGET).
  if not status then return -1 end
  if status == 'ending' then return -2 end
  if socket ~= '' and s[2] ~= socket then return -3 end
  if socket == '' and status ~= 'active' then return -7 end

  local rl_n = 0
  if tonumber(s[6]) == sec then rl_n = tonumber(s[7]) end
  if rl_n >= rate_max then return -4 end

  local lecture = ARGV[a + 3]
  if redis.call('HEXISTS', lk, lecture) == 0 then return -5 end

  local billed = tonumber(s[3])
  local max_ms = tonumber(s[5])
  local elapsed = math.max(0, now - tonumber(s[4]))
  local credit = 0
  if ARGV[a + 1] == '1' then
    local claimed = tonumber(ARGV[a + 2])
    local claimed_delta = elapsed
    if claimed >= 0 then claimed_delta = math.max(0, claimed - billed) end
    credit = math.max(0, math.min(claimed_delta, elapsed, credit_max, max_ms - billed))
  end
  local new_billed = billed + credit
  local warn = 0
  local exhausted = 0
  if new_billed >= max_ms then
    exhausted = 1
    redis.call('HSET', sk, 'billed_ms', new_billed, 'last_ms', now, 'seen_ms', now, 'pct', ARGV[a + 4],
      'lecture', lecture, 'rl_sec', sec, 'rl_n', rl_n + 1,
      'status', 'ending', 'end_reason', 'funds_exhausted', 'ended_ms', now, 'owner', '')
  elseif s[8] ~= '1' and max_ms - new_billed <= warn_ms then
    warn = 1
    redis.call('HSET', sk, 'billed_ms', new_billed, 'last_ms', now, 'seen_ms', now, 'pct', ARGV[a + 4],
      'lecture', lecture, 'rl_sec', sec, 'rl_n', rl_n + 1, 'warned', 1)
  else
    redis.call('HSET', sk, 'billed_ms', new_billed, 'last_ms', now, 'seen_ms', now, 'pct', ARGV[a + 4],
      'lecture', lecture, 'rl_sec', sec, 'rl_n', rl_n + 1)
  end
  if credit > 0 then redis.call('HINCRBY', lk, lecture, credit) end
  return { new_billed, credit, warn, exhausted, s[9], s[10], max_ms }
end

local out = {}
for i = 1, #KEYS / 2 do
  out[i] = apply(KEYS[2 * i - 1], KEYS[2 * i], 5 * i - 1)
end
return out
