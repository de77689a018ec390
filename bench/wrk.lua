-- wrk script for both endpoints, so the floor and the send pay the same
-- script cost per request. First argument: "send" or "get".
-- "send" POSTs /users/sms/<mobile> with a distinct mobile per request: each
-- wrk thread owns a second digit (3..9), and the second argument (a run
-- offset) keeps runs apart so no request meets an earlier cooldown.
-- "one" POSTs the same mobile every time (all but the first meet its cooldown).
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  mode = args[1] or "get"
  counter = tonumber(args[2] or "0")
end

function request()
  if mode == "one" then
    return wrk.format("POST", "/users/sms/13800138000")
  end
  if mode ~= "send" then
    return wrk.format("GET", wrk.path)
  end
  counter = counter + 1
  local mobile = string.format("1%d%09d", 3 + tonumber(tid), counter)
  return wrk.format("POST", "/users/sms/" .. mobile)
end

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT %d %d %d %d %d %d\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
