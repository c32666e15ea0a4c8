--[[
  Pauses a session whose socket closed without `complete`, if that socket still owns it.
  A replaced socket (another owner) or an ending session is left alone.

  Input:
    KEYS[1] session hash sess:{id}
    ARGV[1] socket id
    ARGV[2] disconnect grace, ms

  Output:
    { 1, deadline_ms }  paused; settle as disconnected after deadline_ms unless resumed
    0                   nothing to do
]]
local s = redis.call('HMGET', KEYS[1], 'status', 'owner')
if s[1] ~= 'active' or s[2] ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'status', 'paused', 'owner', '', 'paused_ms', now)
return { 1, now + tonumber(ARGV[2]) }
