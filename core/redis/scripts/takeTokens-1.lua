--[[
  Takes up to ARGV[3] tokens from a principal's REST token bucket (README "Rate limits"), refilled continuously with
  time. A gateway asks for more than one to spend the rest on the same principal's next requests without asking again
  (gateway/http/rest-rate-limit.ts); a request is refused only when not even one token is there.
    1. tokens = min(burst, stored tokens + elapsed ms × refill per ms); a bucket not seen yet starts full.
    2. If at least one token is there, take min(wanted, whole tokens there).
    3. Store tokens and now; the key expires once the bucket would be full again (an idle principal costs no memory).

  Input:
    KEYS[1] bucket hash rest-rate:{principal}
    ARGV[1] bucket size, tokens (burst)
    ARGV[2] refill, tokens per second
    ARGV[3] tokens wanted (≥ 1)

  Output:
    { n, 0 }        n tokens were taken, 1 ≤ n ≤ wanted
    { 0, wait_ms }  refused: the bucket holds less than one token; one will be there in wait_ms (≥ 1)
]]
local burst = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2]) / 1000
local wanted = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'tokens', 'ms')
local tokens = burst
if s[1] then
  local elapsed = math.max(0, now - tonumber(s[2]))
  tokens = math.min(burst, tonumber(s[1]) + elapsed * perMs)
end
local taken = 0
local wait = 0
if tokens >= 1 then
  taken = math.min(wanted, math.floor(tokens))
  tokens = tokens - taken
else
  wait = math.max(1, math.ceil((1 - tokens) / perMs))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ms', now)
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((burst - tokens) / perMs)))
return { taken, wait }
