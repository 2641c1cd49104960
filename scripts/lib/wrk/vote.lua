-- A vote on the voting app's vote service: POST / vote=a|b with a new voter
-- per request (so the worker has distinct rows to write), alternating a and
-- b. Each wrk thread has its own Lua state: setup() gives each a distinct
-- number, so no two threads make the same voter id.
-- Used by scripts/bench-voting.sh and scripts/bench-footprint.sh.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
request = function()
  n = n + 1
  local id = string.format("t%02dv%012x", tid, n)
  local body = (n % 2 == 0) and "vote=a" or "vote=b"
  return wrk.format("POST", "/", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = "voter_id=" .. id,
  }, body)
end
