--[[
  Reads what a checkpoint copies to Postgres, in one atomic step so the billed time and the per-lecture progress
  agree (a heartbeat between two separate reads would make progress sum to more than billed).

  Input:
    KEYS[1] session hash          sess:{id}
    KEYS[2] lecture progress hash sess:{id}:lectures

  Output:
    { billed_ms, pct, lecture ('' if none), { lecture, ms, lecture, ms, ... } }
    -1 unknown session
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local s = redis.call('HMGET', KEYS[1], 'billed_ms', 'pct', 'lecture')
return { s[1], s[2], s[3] or '', redis.call('HGETALL', KEYS[2]) }
