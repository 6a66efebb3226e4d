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

-- Generations are canonical decimal strings (no leading zeros), compared by length, then
-- text: no limit on their size. A config of no known generation (the empty config, a probe)
-- never marks. The agent clears the value once the old workers have QUIT (from then on
-- nginx itself closes their connections after each answer) or the reload failed; it also
-- expires by itself, so an agent that died between the two cannot leave it set.

local _M = {
    -- this config's generation; set by init_by_lua (nginx/agent/lua.ts)
    generation = nil,
}

local shared = ngx.shared.wg_drain
local var = ngx.var

local function newer(a, b)
    if #a ~= #b then return #a > #b end
    return a > b
end

-- In a balancer: an old worker's response tells an HTTP/1.x client to close. Never on
-- HTTP/2 (a connection-specific header is a protocol error there) nor on an upgrade (a
-- WebSocket handshake answers "Connection: upgrade").
function _M.mark()
    local g = shared:get("loading")
    if g == nil then return end
    local mine = _M.generation
    if mine == nil or not newer(g, mine) then return end
    if var.http_upgrade or var.server_protocol == "HTTP/2.0" then return end
    ngx.header["Connection"] = "close"
end

-- Stores the body of the agent's push: "<generation> <seconds>", the generation being
-- loaded and how long the value lasts at most; an empty body forgets it.
function _M.store(body)
    if body == "" then
        shared:delete("loading")
        return 0, 0
    end
    local g, ttl = body:match("^(%d+) (%d+)$")
    if not g or #g > 64 or (#g > 1 and g:sub(1, 1) == "0") or #ttl > 6 or ttl == "0" then
        return nil, "not \"<generation> <seconds>\": " .. body:sub(1, 80)
    end
    local ok, err = shared:set("loading", g, tonumber(ttl))
    if not ok then return nil, tostring(err) end
    return 1, 0
end

-- content_by_lua of the status socket's drain location: GET answers the generation being
-- loaded (empty: none), POST stores one.
function _M.put()
    if ngx.req.get_method() == "GET" then return ngx.say(shared:get("loading") or "") end
    return require("waygate.control").put("drain", _M.store)
end

return _M
