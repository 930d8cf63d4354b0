-- The one-insert floor: POST /floor/insert with a fresh unique key on every request,
-- a body of the same shape and size as a create-order request.
-- Arguments (after `--`): <run prefix>
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require("summary")

local next_thread = 1
function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
end

local prefix, sent = "f", 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  prefix = args[1] or "f"
end

function request()
  sent = sent + 1
  local id = prefix .. "-" .. thread_no .. "-" .. sent
  headers["Idempotency-Key"] = id
  return wrk.format("POST", "/floor/insert", headers,
    '{"orderNumber":"' .. id .. '","amount":149.99,"currency":"USD"}')
end
