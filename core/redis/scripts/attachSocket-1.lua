--[[
  Makes a socket the one socket of a session (the newest wins) and resumes a paused session. The gateway runs it
  before it answers the WebSocket upgrade (gateway/ws/upgrade.ts): the same call authorises the socket and claims the
  session, so a join's socket costs one Redis round trip.
    1. Refuse if the session is unknown.
    2. Refuse a student who is not the session's (ARGV[3]; '' for an admin or service token), before the state is
       looked at (docs/websocket-protocol.md "Upgrade and authorization").
    3. Refuse if the session is ending.
    4. Refuse a paused session whose grace deadline has passed: it is expired, and the sweeper settles it.
    5. owner = this socket; status = active; time is counted from now (no credit for the gap).

  Input:
    KEYS[1] session hash sess:{id}
    ARGV[1] socket id
    ARGV[2] disconnect grace, ms
    ARGV[3] the acting student's id, or '' for any (admin, service)

  Output:
    { 0, previous owner ('' if none), resumed (0|1), billed_ms, locked, price, max_ms, previous status, student id }
    -1 unknown session   -9 another student's session   -2 session ending
    -8 paused past its grace deadline (expired)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local s = redis.call('HMGET', KEYS[1], 'status', 'owner', 'opens', 'billed_ms', 'locked', 'price', 'max_ms', 'paused_ms', 'student_id')
if ARGV[3] ~= '' and s[9] ~= ARGV[3] then return -9 end
if s[1] == 'ending' then return -2 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if s[1] == 'paused' and now >= tonumber(s[8]) + tonumber(ARGV[2]) then return -8 end
local opens = tonumber(s[3])
redis.call('HSET', KEYS[1], 'status', 'active', 'owner', ARGV[1], 'opens', opens + 1, 'last_ms', now, 'seen_ms', now)
redis.call('HDEL', KEYS[1], 'paused_ms')
local resumed = 0
if opens > 0 then resumed = 1 end
return { 0, s[2], resumed, s[4], s[5], s[6], s[7], s[1], s[9] }
