--[[
  Which of a batch of sessions still have live state, for the worker's reconcile walk
  (settlement-worker/reconcile-lost-sessions.ts): one call answers a page of sessions that would otherwise cost one
  command each. Reads only; a session's hash is live state exactly when it exists (every live hash has a status).
  Every key of one call must share one Cluster slot: on a Cluster the caller sends one session per call.

  Input (numkeys = sessions, given by the caller):
    KEYS[i] session hash  sess:{id} of session i

  Output: one integer per session, in order: 1 live state exists, 0 none.
]]
local out = {}
for i = 1, #KEYS do out[i] = redis.call('EXISTS', KEYS[i]) end
return out
