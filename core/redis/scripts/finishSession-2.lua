--[[
  Ends a session (complete) and freezes its figures for settlement. Idempotent: a session already ending returns
  its frozen figures.
    1. Refuse if unknown.
    2. If ARGV[2] ≥ 0 and the session is active, apply one last playing credit, as a metrics update would.
    3. status = ending with the end reason (funds_exhausted if that last credit used up the funds); no update
       changes the figures after this.

  Input:
    KEYS[1] session hash          sess:{id}
    KEYS[2] lecture progress hash sess:{id}:lectures
    ARGV[1] end reason (completed | funds_exhausted | disconnected)
    ARGV[2] final cumulative duration claim in ms, or -1 for none
    ARGV[3] largest credit per update, ms

  Output:
    { 0, end_reason, billed_ms, pct, lecture, { lecture, ms, lecture, ms, ... } }
    -1 unknown session
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local s = redis.call('HMGET', KEYS[1], 'status', 'billed_ms', 'last_ms', 'max_ms', 'lecture')
if s[1] ~= 'ending' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local billed = tonumber(s[2])
  local claimed = tonumber(ARGV[2])
  if claimed >= 0 and s[1] == 'active' and s[5] then
    local elapsed = math.max(0, now - tonumber(s[3]))
    local credit = math.max(0, math.min(math.max(0, claimed - billed), elapsed, tonumber(ARGV[3]), tonumber(s[4]) - billed))
    if credit > 0 then
      billed = billed + credit
      redis.call('HSET', KEYS[1], 'billed_ms', billed)
      redis.call('HINCRBY', KEYS[2], s[5], credit)
    end
  end
  local reason = ARGV[1]
  if billed >= tonumber(s[4]) then reason = 'funds_exhausted' end
  redis.call('HSET', KEYS[1], 'status', 'ending', 'end_reason', reason, 'ended_ms', now, 'last_ms', now, 'owner', '')
end
local f = redis.call('HMGET', KEYS[1], 'end_reason', 'billed_ms', 'pct', 'lecture')
return { 0, f[1], f[2], f[3], f[4] or '', redis.call('HGETALL', KEYS[2]) }
