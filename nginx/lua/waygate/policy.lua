-- waygate.policy: HTTPRoute rules[].timeouts and rules[].retry for each proxied request.
--
-- nginx's own timeouts bound the gaps between reads, and its retries only ever move to
-- another server. This module, called from the config operator/src/dataplane/policy.ts
-- writes, keeps a deadline instead and retries on any peer, the same one included:
--
--   upstream NAME { ...; balancer_by_lua_block {
--       local policy = require("waygate.policy")
--       policy.balance(policy.upstreams["NAME"] or policy.define("NAME", SPEC)) } }
--   SPEC = { attempts = N, request_ms = N, backend_request_ms = N }   (0 ms: no such limit)
--   location (the rule's target) {
--       header_filter_by_lua_block { require("waygate.policy").header_filter() }
--       body_filter_by_lua_block { return require("waygate.policy").body_filter() } }
--
-- The location sets proxy_next_upstream (what is retried), proxy_next_upstream_tries
-- (attempts + 1) and proxy_next_upstream_timeout (the request timeout: nginx stops
-- retrying when it is up; its clock and ours both start with the first try).
--
-- Per try: connect, send and read timeouts are all cut to the smaller of the attempt's
-- limit (backendRequest) and what is left of the request's (request), so a try times out at
-- the deadline at the latest and nginx answers 504. A response header that arrives after it
-- anyway (the read timer starts once the request is sent) is replaced by a 504; a body still
-- flowing to the client after it is cut (the connection is aborted).
--
-- Peers: the upstream's in waygate.peers (pushed by the agent, no reload), picked as there:
-- smooth weighted round robin, preferring a peer this request has not tried and one that
-- has not failed in the last 10 s. An upstream without peers answers 503 (waygate.peers).

local balancer = require "ngx.balancer"
local peers = require "waygate.peers"

local ngx_now = ngx.now
local ceil = math.ceil

local _M = { upstreams = {} }

function _M.define(name, spec)
    local u = {
        name = name,
        attempts = spec.attempts or 0,
        request = (spec.request_ms or 0) / 1000,
        backend_request = (spec.backend_request_ms or 0) / 1000,
    }
    _M.upstreams[name] = u
    return u
end

-- Seconds for set_timeouts, rounded up to whole milliseconds (nginx truncates to ms), plus
-- 1 ms: a timer never fires before the deadline. The slack is for nginx's own check: it
-- measures proxy_next_upstream_timeout on its monotonic clock, ngx.now() is the wall clock,
-- and the two are truncated to ms apart, so elapsed times differ by up to 1 ms. A try cut
-- 1 ms early passed that check and started one attempt more after the deadline (a CI run).
local function timeout_seconds(s)
    local ms = ceil(s * 1000) + 1
    if ms < 1 then ms = 1 end
    return (ms + 0.5) / 1000
end

function _M.balance(u)
    local s = peers.state(u.name)
    if not s then return peers.set_unavailable() end
    local ctx = ngx.ctx
    local now = ngx_now()
    local st = ctx.waygate_policy
    if not st then
        st = { tried = {} }
        if u.request > 0 then st.deadline = now + u.request end
        ctx.waygate_policy = st
        if u.attempts > 0 then
            -- nginx adds them to this try; proxy_next_upstream_tries caps the total at attempts + 1.
            local ok, err = balancer.set_more_tries(u.attempts)
            if not ok then error("waygate.policy: set_more_tries: " .. tostring(err)) end
        end
    elseif st.peer and st.state == s and balancer.get_last_failure() == "failed" then
        peers.failed(s, st.peer, now)
    end
    if st.state ~= s then st.tried, st.state = {}, s end -- the list changed: its indices are new

    local limit = u.backend_request > 0 and u.backend_request or nil
    if st.deadline then
        local left = st.deadline - now
        if not limit or left < limit then limit = left end
    end
    if limit then
        st.try_deadline = now + limit
        local s = timeout_seconds(limit)
        local ok, err = balancer.set_timeouts(s, s, s)
        if not ok then error("waygate.policy: set_timeouts: " .. tostring(err)) end
    end

    local i = peers.pick(s, st.tried, now)
    st.tried[i], st.peer = true, i
    peers.set_peer(s.peers[i])
end

-- The earlier of the request's deadline and the current attempt's.
local function deadline_of(st)
    local d, t = st.deadline, st.try_deadline
    if t and (not d or t < d) then d = t end
    return d
end

function _M.header_filter()
    local st = ngx.ctx.waygate_policy
    if not st or st.answered then return end
    st.answered = true
    -- nginx's own answers (the 504 of a timed-out try, say) have no upstream header time.
    local header_time = ngx.var.upstream_header_time
    if not header_time or header_time:sub(-1) == "-" then return end
    local d = deadline_of(st)
    if not d then return end
    if ngx_now() > d then
        ngx.log(ngx.INFO, "waygate.policy: response header after the deadline, answering 504")
        return ngx.exit(504)
    end
    st.streaming = true
end

function _M.body_filter()
    local st = ngx.ctx.waygate_policy
    if st and st.streaming and ngx_now() > deadline_of(st) then
        -- Every call from now on: nginx may call again (its last buffer, say) and must not pass it.
        if not st.cut then
            st.cut = true
            ngx.log(ngx.INFO, "waygate.policy: response body still flowing at the deadline, aborting it")
        end
        return ngx.ERROR
    end
end

return _M
