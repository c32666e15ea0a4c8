--[[
  Applies a batch of metering updates (WS heartbeats, or one REST metrics update), each by the clamp rule of
  docs/liveness-and-billing.md "Billable time",
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

  Output: seven values per update, in order (flat: no table per update):
    0, billed_ms, credit_ms, flags (1 low-funds warning, 2 exhausted), locked, price, max_ms
    or a refusal: code, 0, 0, 0, 0, 0, 0 with code
    -1 unknown session   -2 session ending   -3 socket replaced   -4 rate limited
    -5 unknown lecture   -7 paused (REST update while the player's socket is gone)

  Cost (README "Redis keys"): per update one HMGET, one HSET and, when credited, one HINCRBY. The lecture is looked up
  only when it is not the session's current one, which is always a field of the progress hash (set here after this
  check, or by restoreSession only if the course has it). Numbers written are formatted as integers here: Redis would
  format a Lua number with %.17g, several times slower. The hot fields come first in the hash (startSession).
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local sec = t[1]
local fmt = string.format
local now_text = fmt('%d', now)
local credit_max = tonumber(ARGV[1])
local rate_max = tonumber(ARGV[2])
local warn_ms = tonumber(ARGV[3])
local out = {}
local n = 0

-- Appends update i's answer to `out`, or returns its refusal code.
local function apply(sk, lk, a)
  local socket = ARGV[a]
  local s = redis.call('HMGET', sk, 'status', 'owner', 'billed_ms', 'last_ms', 'max_ms', 'rl_sec', 'rl_n', 'warned',
    'locked', 'price', 'lecture')
  local status = s[1]
  -- Every live session hash has a status: none means no hash (one HMGET instead of EXISTS + HMGET).
  if not status then return -1 end
  if status == 'ending' then return -2 end
  if socket ~= '' and s[2] ~= socket then return -3 end
  if socket == '' and status ~= 'active' then return -7 end

  local rl_n = 0
  if s[6] == sec then rl_n = tonumber(s[7]) end
  if rl_n >= rate_max then return -4 end

  local lecture = ARGV[a + 3]
  if lecture ~= s[11] and redis.call('HEXISTS', lk, lecture) == 0 then return -5 end

  local billed = tonumber(s[3])
  local max_ms = tonumber(s[5])
  local credit = 0
  if ARGV[a + 1] == '1' then
    local elapsed = math.max(0, now - tonumber(s[4]))
    local claimed = tonumber(ARGV[a + 2])
    local claimed_delta = elapsed
    if claimed >= 0 then claimed_delta = math.max(0, claimed - billed) end
    credit = math.max(0, math.min(claimed_delta, elapsed, credit_max, max_ms - billed))
  end
  local new_billed = billed + credit

  -- Only the fields that change are written.
  local w = { sk, 'last_ms', now_text, 'seen_ms', now_text, 'pct', ARGV[a + 4], 'rl_n', fmt('%d', rl_n + 1) }
  if credit > 0 then w[#w + 1] = 'billed_ms'; w[#w + 1] = fmt('%d', new_billed) end
  if lecture ~= s[11] then w[#w + 1] = 'lecture'; w[#w + 1] = lecture end
  if s[6] ~= sec then w[#w + 1] = 'rl_sec'; w[#w + 1] = sec end
  local flags = 0
  if new_billed >= max_ms then
    flags = 2
    w[#w + 1] = 'status'; w[#w + 1] = 'ending'; w[#w + 1] = 'end_reason'; w[#w + 1] = 'funds_exhausted'
    w[#w + 1] = 'ended_ms'; w[#w + 1] = now_text; w[#w + 1] = 'owner'; w[#w + 1] = ''
  elseif s[8] ~= '1' and max_ms - new_billed <= warn_ms then
    flags = 1
    w[#w + 1] = 'warned'; w[#w + 1] = '1'
  end
  redis.call('HSET', unpack(w))
  if credit > 0 then redis.call('HINCRBY', lk, lecture, credit) end

  out[n + 1] = 0; out[n + 2] = new_billed; out[n + 3] = credit; out[n + 4] = flags
  out[n + 5] = s[9]; out[n + 6] = s[10]; out[n + 7] = max_ms
  n = n + 7
  return 0
end

for i = 1, #KEYS / 2 do
  local code = apply(KEYS[2 * i - 1], KEYS[2 * i], 5 * i - 1)
  if code ~= 0 then
    out[n + 1] = code; out[n + 2] = 0; out[n + 3] = 0; out[n + 4] = 0; out[n + 5] = 0; out[n + 6] = 0; out[n + 7] = 0
    n = n + 7
  end
end
return out
