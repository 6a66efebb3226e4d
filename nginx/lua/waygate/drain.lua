-- waygate.drain: keep-alive connections end before a reload ends them.
--
-- On a reload nginx's old workers get QUIT and close their idle keep-alive connections at
-- once, even one whose next request is already in its socket buffer: that client gets a
-- reset (measured under wrk: about 9 failed requests per reload, as many as a hand-written
-- nginx). So before the SIGHUP the agent names the generation it loads (the version of
-- the main config: `generation` below, set by init_by_lua); from then on the workers of an
-- older generation add "Connection: close" to their proxied HTTP/1.x responses, and a
-- client closes the connection after that response instead of sending another request on
-- it. The new workers are of that generation and keep connections alive. nginx's own
-- "Connection: keep-alive" line stays in those responses (Lua cannot clear the request's
-- keep-alive flag); a client that honours "close" closes, one that does not is no worse
-- off than without this module.
--
-- Costs one shared-dict read per proxied request (in the balancer, which already runs).

local _M = { generation = 0 }

local shared = ngx.shared.wg_drain
local var = ngx.var

-- In a balancer: an old worker's response tells an HTTP/1.x client to close. Never on
-- HTTP/2 (a connection-specific header is a protocol error there) nor on an upgrade (a
-- WebSocket handshake answers "Connection: upgrade").
function _M.mark()
    local g = shared:get("loading")
    if g == nil or g <= _M.generation then return end
    if var.http_upgrade or var.server_protocol == "HTTP/2.0" then return end
    ngx.header["Connection"] = "close"
end

-- Stores the body of the agent's push: the generation being loaded (a decimal integer), or
-- an empty body to forget it (nothing is being loaded: a reload failed).
function _M.store(body)
    if body == "" then
        shared:delete("loading")
        return 0, 0
    end
    if not body:match("^%d+$") or #body > 15 then return nil, "not a generation: " .. body:sub(1, 32) end
    local ok, err = shared:set("loading", tonumber(body))
    if not ok then return nil, tostring(err) end
    return 1, 0
end

-- content_by_lua of the status socket's drain location.
function _M.put()
    return require("waygate.control").put("drain", _M.store)
end

return _M
