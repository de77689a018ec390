-- wrk script: POST /users/sms/<mobile> with a distinct mobile per request.
-- Each wrk thread owns a second digit (3..9); the run offset (first script
-- argument) keeps runs apart so no request meets an earlier cooldown.
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = tonumber(args[1] or "0")
end

function request()
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
