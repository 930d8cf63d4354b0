-- localstripe (bench/peers.py): create and confirm a PaymentIntent in one request, as a
-- Stripe client does: POST /v1/payment_intents, form-encoded, with confirm=true and the
-- test card pm_card_visa, and a unique metadata[orderNumber] (payflow's create carries a
-- unique orderNumber too).
-- Arguments (after `--`): <run prefix> [<intents per thread; 0 = until the duration ends>
-- [<tally file>]], as create.lua: with a limit a thread sends that many creates, then
-- GET /js.stripe.com/v3/ (a static file localstripe serves without touching its store)
-- until its create answers are in; with a tally file it appends "<thread> <answers>"
-- every 100 answers and "<thread> done" when it stops (bench/procs.py: Tally).
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require("summary")

local next_thread = 1
function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
end

local prefix, limit, sent, answered, idle = "l", 0, 0, 0, 0
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Authorization"] = "Bearer sk_test_payflowbench",
}
local tally = nil

local function note(what)
  local file = io.open(tally, "a")
  if file then
    file:write(thread_no .. " " .. what .. "\n")
    file:close()
  end
end

function init(args)
  prefix = args[1] or "l"
  limit = tonumber(args[2] or "0") or 0
  tally = args[3]
  if limit > 0 and thread_no == 1 then
    limit = limit + 1 -- wrk calls the first thread's request() once before the run
  end
  if limit > 0 then
    -- Only defined when needed: a response callback makes wrk parse every response.
    response = function(status, response_headers, _)
      local kind = response_headers["Content-Type"] or ""
      if kind:find("javascript", 1, true) then -- the static file: creates nothing
        idle = idle + 1
      else
        answered = answered + 1
        if tally and answered % 100 == 0 then note(answered) end
      end
      if answered >= limit or idle >= 64 then
        if tally then note("done") end
        wrk.thread:stop()
      end
    end
  end
end

function request()
  if limit > 0 and sent >= limit then
    return wrk.format("GET", "/js.stripe.com/v3/")
  end
  sent = sent + 1
  local id = prefix .. "-" .. thread_no .. "-" .. sent
  return wrk.format("POST", "/v1/payment_intents", headers,
    "amount=14999&currency=usd&payment_method=pm_card_visa&confirm=true" ..
    "&metadata[orderNumber]=" .. id)
end
