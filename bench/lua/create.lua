-- POST /api/orders with a fresh Idempotency-Key and orderNumber on every request.
-- Arguments (after `--`): <run prefix> [<orders per thread; 0 = until the duration ends>
-- [dueAt=<unix ms>] [<tally file>]]
-- Ids are <prefix>-<thread>-<n>: unique across threads, and across runs by the prefix.
-- With a limit a thread sends that many creates, then /health/live (which creates
-- nothing) until its create answers are in, or until its connections have all moved on to
-- /health/live.
-- The database, not wrk, counts the orders made. With a tally file each thread appends
-- "<thread> <answers>" every 100 answers and "<thread> done" when it stops, so the bench
-- follows a run without asking the database under test (bench/procs.py: Tally).
-- With dueAt each order asks for the processingDelayMs that makes it due at that moment
-- (the clock read through LuaJIT's ffi): orders created over a few seconds all fall due
-- together, so their payments are measured alone (bench/payments.py).
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require("summary")
local limited = require("limited")

local prefix, limit, sent = "b", 0, 0
local headers = { ["Content-Type"] = "application/json" }
local tally = nil
local due_ms = nil
local now_ms = nil

function init(args)
  prefix = args[1] or "b"
  limit = tonumber(args[2] or "0") or 0
  for i = 3, #args do
    local due = args[i]:match("^dueAt=(%d+)$")
    if due then due_ms = tonumber(due) else tally = args[i] end
  end
  if due_ms then
    local ffi = require("ffi")
    ffi.cdef("typedef struct { long sec; long usec; } bench_timeval;" ..
      "int gettimeofday(bench_timeval *tv, void *tz);")
    local tv = ffi.new("bench_timeval")
    now_ms = function()
      ffi.C.gettimeofday(tv, nil)
      return tonumber(tv.sec) * 1000 + math.floor(tonumber(tv.usec) / 1000)
    end
  end
  -- /health/live answers 200; a create answers 201 or an error.
  limit = limited.stop_after(limit, tally, function(status) return status == 200 end)
end

function request()
  if limit > 0 and sent >= limit then
    return wrk.format("GET", "/health/live")
  end
  sent = sent + 1
  local id = prefix .. "-" .. thread_no .. "-" .. sent
  headers["Idempotency-Key"] = id
  local delay = ""
  if due_ms then
    delay = ',"processingDelayMs":' .. math.max(0, due_ms - now_ms())
  end
  return wrk.format("POST", "/api/orders", headers,
    '{"orderNumber":"' .. id .. '","amount":149.99,"currency":"USD"' .. delay .. '}')
end
