--[[
  Reads what a checkpoint copies to Postgres for a batch of sessions, as JSON text the worker passes to Postgres
  unparsed (settlement-worker/checkpoint-durations.ts): the worker's CPU per checkpointed session stays a few
  microseconds. One session's billed time and lecture progress are read in the same atomic step, so they agree (a
  heartbeat between two separate reads would make progress sum to more than billed). Every value is JSON text, as
  Redis holds it: no number goes through a float here.
  Every key of one call must share one Cluster slot: on a Cluster the caller sends one session per call.

  Input (numkeys = 2 × sessions, given by the caller):
    KEYS[2i−1] session hash          sess:{id} of session i
    KEYS[2i]   lecture progress hash sess:{id}:lectures of session i
    ARGV[i]    id of session i

  Output: one JSON array text, one object per session that still has live state (an unknown session is left out):
    [{"id":"<id>","ms":"<billed_ms>","pct":"<pct>","lecture":"<lecture or ''>","progress":{"<lecture>":"<ms>",...}},...]
]]
local rows = {}
for i = 1, #ARGV do
  local session, lectures = KEYS[2 * i - 1], KEYS[2 * i]
  if redis.call('EXISTS', session) == 1 then
    local s = redis.call('HMGET', session, 'billed_ms', 'pct', 'lecture')
    local flat = redis.call('HGETALL', lectures)
    local progress = {}
    for j = 1, #flat, 2 do progress[flat[j]] = flat[j + 1] end
    -- cjson writes an empty table as {}: a session with no lecture progress yet has an empty map, as before.
    rows[#rows + 1] = cjson.encode({ id = ARGV[i], ms = s[1], pct = s[2] or '0', lecture = s[3] or '', progress = progress })
  end
end
return '[' .. table.concat(rows, ',') .. ']'
