-- wrk script: keep-alive `POST /v1/events/{e}/queue`, a new userId per request (every request
-- is a new place in the queue), for measuring joins/s with a C client.
--   wrk -t2 -c64 -d10s -s LoadTests/wrk/join.lua http://127.0.0.1:PORT/v1/events/EVENT/queue -- RUNID
local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("thread_id", next_id)
  table.insert(threads, thread)
end

function init(args)
  prefix = (args[1] or "wrk") .. "-" .. thread_id .. "-"
  counter = 0
  unexpected = 0
end

function request()
  counter = counter + 1
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" },
    '{"userId":"' .. prefix .. counter .. '"}')
end

function response(status, headers, body)
  if status ~= 201 then unexpected = unexpected + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("unexpected") end
  io.write(string.format("joins (wrk): %d requests, %d not 201\n", summary.requests, bad))
end
