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
local limited = require("limited")

local prefix, limit, sent = "l", 0, 0
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Authorization"] = "Bearer sk_test_payflowbench",
}
local tally = nil

function init(args)
  prefix = args[1] or "l"
  limit = tonumber(args[2] or "0") or 0
  tally = args[3]
  -- The static file answers as JavaScript: it creates nothing.
  limit = limited.stop_after(limit, tally, function(_, response_headers)
    local kind = response_headers["Content-Type"] or ""
    return kind:find("javascript", 1, true) ~= nil
  end)
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
