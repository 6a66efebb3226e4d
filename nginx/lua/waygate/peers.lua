-- waygate.peers: the endpoints of HTTP upstreams, outside nginx.conf, so that an endpoint
-- change needs no reload.
--
-- The agent pushes every upstream's peers (POST to /waygate/peers on its status socket, the
-- body the version's peers.txt) into the lua_shared_dict wg_peers, which every worker reads
-- and which outlives reloads (a new worker sees the peers at once); after an nginx restart
-- the dict is empty and the agent pushes again. The config writes, per upstream:
--
--   upstream NAME { server 0.0.0.1:1; balancer_by_lua_block { require("waygate.peers").balance("NAME") } keepalive 16; }
--
-- (or the policy's balancer, which picks from the same peers). Body format, one item a line:
--   upstream NAME
--   ADDRESS WEIGHT          (ADDRESS "ip:port", "[ipv6]:port" or "unix:/path", WEIGHT a positive integer)
-- An upstream without peers (no ready endpoint) is sent to `unavailable`, a local server of
-- the main config that answers 503, as the config answered before peers moved here.
--
-- Peers are picked by smooth weighted round robin (nginx's algorithm), preferring one this
-- request has not tried and one that has not failed in the last 10 s (nginx's default
-- fail_timeout). The pick state is per worker and restarts when the upstream's list changes.

local balancer = require "ngx.balancer"
local drain_mark = require("waygate.drain").mark

local shared = ngx.shared.wg_peers
local ngx_now = ngx.now

local FAIL_TIMEOUT = 10 -- seconds a failed peer is passed over (unless nothing else is left)
local PREFIX = "u:"

local _M = {
    -- "unix:<socket>" of the 503 server; set by the main config's init_by_lua (lua.ts).
    unavailable = nil,
}

-- name -> { text, peers, weights, current, down_until }, per worker.
local states = {}

local function parse_list(text)
    local s = { text = text, peers = {}, weights = {}, current = {}, down_until = {} }
    for addr, weight in text:gmatch("(%S+) (%d+)\n") do
        local n = #s.peers + 1
        s.peers[n], s.weights[n], s.current[n], s.down_until[n] = addr, tonumber(weight), 0, 0
    end
    return s
end

-- The upstream's peers in this worker, or nil when it has none (no ready endpoint, or not pushed).
function _M.state(name)
    local text = shared:get(PREFIX .. name)
    if not text or text == "" then
        states[name] = nil
        return nil
    end
    local s = states[name]
    if not s or s.text ~= text then
        s = parse_list(text)
        states[name] = s
    end
    return s
end

-- Smooth weighted round robin among the peers `eligible` accepts; nil when none does.
local function swrr(s, eligible, tried, now)
    local best, total = nil, 0
    for i = 1, #s.peers do
        if eligible(i, tried, now, s) then
            local w = s.weights[i]
            s.current[i] = s.current[i] + w
            total = total + w
            if not best or s.current[i] > s.current[best] then best = i end
        end
    end
    if best then s.current[best] = s.current[best] - total end
    return best
end

local function fresh_and_up(i, tried, now, s) return not tried[i] and s.down_until[i] <= now end
local function up(i, tried, now, s) return s.down_until[i] <= now end
local function fresh(i, tried) return not tried[i] end
local function any() return true end

-- A peer index of state `s` for a try; `tried` holds the indices this request tried.
function _M.pick(s, tried, now)
    return swrr(s, fresh_and_up, tried, now) or swrr(s, up, tried, now)
        or swrr(s, fresh, tried, now) or swrr(s, any, tried, now)
end

function _M.failed(s, i, now)
    s.down_until[i] = now + FAIL_TIMEOUT
end

-- Every try of a proxied request passes here: during a reload an old worker's response asks
-- the client to close its keep-alive connection (waygate.drain).
function _M.set_peer(addr)
    drain_mark()
    local ok, err = balancer.set_current_peer(addr)
    if not ok then error("waygate.peers: set_current_peer " .. addr .. ": " .. tostring(err)) end
end

-- The 503 answer of an upstream without peers.
function _M.set_unavailable()
    if not _M.unavailable then error("waygate.peers: no peers and no 503 server") end
    _M.set_peer(_M.unavailable)
end

-- balancer_by_lua of an upstream without a rule policy: nginx's own retries (proxy_next_upstream) go to other peers.
function _M.balance(name)
    local s = _M.state(name)
    if not s then return _M.set_unavailable() end
    -- One peer: every try goes to it, whatever was tried or failed, so no per-request state
    -- (ngx.ctx is a good part of this function's cost).
    if s.peers[2] == nil then return _M.set_peer(s.peers[1]) end
    local ctx = ngx.ctx
    local now = ngx_now()
    local st = ctx.waygate_peers
    if not st then
        st = { tried = {} }
        ctx.waygate_peers = st
    elseif st.state == s and balancer.get_last_failure() == "failed" then
        _M.failed(s, st.peer, now)
    end
    if st.state ~= s then st.tried = {} end -- the list changed: its indices are new
    local i = _M.pick(s, st.tried, now)
    st.tried[i], st.peer, st.state = true, i, s
    _M.set_peer(s.peers[i])
end

-- balancer_by_lua of the route table's upstream wg_table: the peers of $wg_upstream (set by
-- waygate.routes). The variable is read here, not in the config's chunk: the chunk runs in
-- LuaJIT's interpreter (it calls require, a C function), where ngx.var's FFI calls cost
-- several times what they cost in this function's compiled trace.
function _M.balance_table()
    return _M.balance(ngx.var.wg_upstream)
end

-- Stores a peers document (the format above); with `prune` the upstreams it does not name
-- are removed. Returns the number of upstreams stored and removed, or nil and an error.
function _M.store(body, prune)
    local lists, order, current = {}, {}, nil
    for line in body:gmatch("([^\n]*)\n") do
        local name = line:match("^upstream ([%w_]+)$")
        if name then
            current = name
            lists[name] = {}
            order[#order + 1] = name
        elseif line ~= "" then
            local addr, weight = line:match("^([%w%.:%[%]/_%-]+) (%d+)$")
            if not addr or not current or tonumber(weight) < 1 then
                return nil, "bad line: " .. line
            end
            local l = lists[current]
            l[#l + 1] = addr .. " " .. weight .. "\n"
        end
    end
    for _, name in ipairs(order) do
        -- safe_set: a full dict refuses, and evicts no other upstream's peers (set would drop
        -- the least recently used ones, a quiet tenant's, before saying so).
        local ok, err = shared:safe_set(PREFIX .. name, table.concat(lists[name]))
        if not ok then return nil, "storing " .. name .. ": " .. tostring(err) .. " (the shared dict wg_peers is full)" end
    end
    local removed = 0
    if prune then
        for _, key in ipairs(shared:get_keys(0)) do
            if key:sub(1, #PREFIX) == PREFIX and not lists[key:sub(#PREFIX + 1)] then
                shared:delete(key)
                removed = removed + 1
            end
        end
    end
    return #order, removed
end

-- init_by_lua of a config whose peers are a file (the tests' throwaway nginx).
function _M.load_file(path)
    require("waygate.control").load_file("waygate.peers", path, _M.store)
end

-- content_by_lua of the agent's control location: stores the pushed document. With
-- ?prune=1 upstreams the document does not name are removed (after a reload; before it the
-- old workers may still use them).
function _M.put()
    return require("waygate.control").put("waygate.peers", _M.store)
end

return _M
