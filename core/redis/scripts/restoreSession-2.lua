--[[
  Rebuilds the live state of a session that Postgres says is active but Redis has lost (a restart without
  persistence, a failover), from the last checkpoint. Billed time restarts at the checkpoint: at most one checkpoint
  interval is lost, never added. Time is counted from now. Refused if the state exists (another gateway won).

  Input:
    KEYS[1] session hash          sess:{id}
    KEYS[2] lecture progress hash sess:{id}:lectures
    ARGV[1] student id
    ARGV[2] course id
    ARGV[3] teacher id
    ARGV[4] locked amount, minor units
    ARGV[5] price per minute, minor units
    ARGV[6] max billable time, ms
    ARGV[7] billed ms at the checkpoint
    ARGV[8] completion percent at the checkpoint
    ARGV[9] current lecture at the checkpoint ('' if none; left unset if the course no longer has it)
    ARGV[10] socket id that becomes the owner ('' when no socket is attached yet): set in the same step, so a
             heartbeat racing the rebuild is not mistaken for one from a replaced socket
    ARGV[11..] pairs: lecture id, billed ms at the checkpoint (every lecture of the course)

  Output:
    { 0, now_ms }  restored
    -6             the state exists already
]]
if redis.call('EXISTS', KEYS[1]) == 1 then return -6 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Hot fields first, as startSession-2.lua writes them.
redis.call('HSET', KEYS[1],
  'status', 'active', 'owner', ARGV[10], 'billed_ms', ARGV[7], 'last_ms', now, 'seen_ms', now, 'max_ms', ARGV[6],
  'rl_sec', 0, 'rl_n', 0, 'warned', 0, 'locked', ARGV[4], 'price', ARGV[5], 'pct', ARGV[8],
  'student_id', ARGV[1], 'course_id', ARGV[2], 'teacher_id', ARGV[3], 'started_ms', now, 'opens', 1, 'restored_ms', now)
for i = 11, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
-- The current lecture is always one of the progress hash's fields (applyUpdates-n.lua relies on it): a checkpointed
-- lecture the course no longer has is not restored as current.
if ARGV[9] ~= '' and redis.call('HEXISTS', KEYS[2], ARGV[9]) == 1 then redis.call('HSET', KEYS[1], 'lecture', ARGV[9]) end
return { 0, now }
