-- What create.lua and localstripe.lua share: numbered threads, and a run that ends by
-- itself after a number of creates per thread, followed through a tally file.
-- `limited.stop_after(limit, tally, is_idle)` makes wrk parse every response (only then:
-- a response callback costs), counts the answers to creates (those `is_idle` does not
-- claim), appends "<thread> <answers>" to the tally every 100 answers and
-- "<thread> done" when the thread stops: after `limit` answers, or after 64 idle ones
-- (every connection has moved on to the idle request). Returns the limit to send up to:
-- wrk calls the first thread's request() once before the run, so that thread sends one
-- more (bench/procs.py: Tally).
local limited = {}

local next_thread = 1
function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
end

local function note(tally, what)
  local file = io.open(tally, "a")
  if file then
    file:write(thread_no .. " " .. what .. "\n")
    file:close()
  end
end

function limited.stop_after(limit, tally, is_idle)
  if limit <= 0 then
    return limit
  end
  if thread_no == 1 then
    limit = limit + 1
  end
  local answered, idle = 0, 0
  response = function(status, headers, _)
    if is_idle(status, headers) then
      idle = idle + 1
    else
      answered = answered + 1
      if tally and answered % 100 == 0 then note(tally, answered) end
    end
    if answered >= limit or idle >= 64 then
      if tally then note(tally, "done") end
      wrk.thread:stop()
    end
  end
  return limit
end

return limited
