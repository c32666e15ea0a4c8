--[[
  Moves a session's deadline, but only if nobody moved it since the sweeper found it due. Without the check, a
  sweeper rescheduling an active session could overwrite the earlier deadline a socket close has just written
  (detachSocket), and the session would be settled late.

  Input:
    KEYS[1] deadline sorted set of the session's bucket  deadlines:{d<b>}
    ARGV[1] session id
    ARGV[2] new deadline, ms
    ARGV[3] the time the sweeper found it due, ms: a score above it was written since

  Output:
    1 moved   0 left alone (moved meanwhile, or removed)
]]
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
