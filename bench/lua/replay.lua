-- The same POST /api/orders (one Idempotency-Key, one body) on every request: replays.
-- Arguments (after `--`): <key>; the body's orderNumber is the key too.
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require("summary")

function init(args)
  local key = args[1] or "replay"
  wrk.method = "POST"
  wrk.path = "/api/orders"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Idempotency-Key"] = key
  wrk.body = '{"orderNumber":"' .. key .. '","amount":149.99,"currency":"USD"}'
end
