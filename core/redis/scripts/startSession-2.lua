--[[
  Creates the live metering state of a session that has just been started in Postgres.
    1. Refuse if the session hash already exists (a start is applied once).
    2. Write the session hash (money in minor units, times in ms of Redis server time).
    3. Write one progress field per lecture of the course, each at 0 ms.

  Input:
    KEYS[1] session hash          sess:{id}
    KEYS[2] lecture progress hash sess:{id}:lectures
    ARGV[1] student id
    ARGV[2] course id
    ARGV[3] teacher id
    ARGV[4] locked amount, minor units
    ARGV[5] price per minute, minor units
    ARGV[6] max billable time, ms
    ARGV[7..] lecture ids of the course

  Output:
    { 0, now_ms }  created
    -6             already exists
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  return -6
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- The fields every update reads or writes come first: a small hash is a listpack, searched from its start
-- (applyUpdates-n.lua).
redis.call('HSET', KEYS[1],
  'status', 'active', 'owner', '', 'billed_ms', 0, 'last_ms', now, 'seen_ms', now, 'max_ms', ARGV[6],
  'rl_sec', 0, 'rl_n', 0, 'warned', 0, 'locked', ARGV[4], 'price', ARGV[5], 'pct', '0',
  'student_id', ARGV[1], 'course_id', ARGV[2], 'teacher_id', ARGV[3], 'started_ms', now, 'opens', 0)
for i = 7, #ARGV do
  redis.call('HSET', KEYS[2], ARGV[i], 0)
end
return { 0, now }
