-- waygate.routes: the route table, the plain HTTPRoute rules that are not in nginx.conf, so
-- that adding, changing or removing one needs no reload (operator/src/dataplane/route-table.ts).
--
-- The agent pushes the version's routes.txt (POST to /waygate/routes on its status socket)
-- into the lua_shared_dict wg_routes; every worker parses a new document once and keeps it.
-- A port whose rules come from the table has a default server of this shape:
--
--   location / { set $wg_route "";
--                set_by_lua_block $wg_upstream { return require("waygate.routes").route("PORT") }
--                if ($wg_upstream = "") { return 404; }
--                if ($wg_upstream = "!500") { return 500; }
--                proxy_pass http://wg_table; proxy_redirect off; }
--
-- and the upstream wg_table balances $wg_upstream's peers (waygate.peers balance_table). nginx's own
-- server choice comes first: a host with a server block never gets here.
--
-- Document, one item a line, every field %XX-encoded where it is not [A-Za-z0-9._~/*:-]
-- ("" is "%"):
--   port PORT
--   server HOST                  (a host a server block serves: for the agent's merge, ignored here)
--   host HOST                    ("-": the catch-all; "*.example.com": a wildcard)
--   rule e|p PATH ROUTE UPSTREAM STATUS METHOD [h VAR VALUE]... [q VAR VALUE]...
-- Rules of a host come in precedence order (the operator sorts them by the spec's rules);
-- the first whose path, method, header ($http_*) and query ($arg_*) conditions hold wins.
-- An Exact path must equal $uri; a PathPrefix (no trailing "/") matches it and the paths
-- under it, element by element. UPSTREAM "-": answer STATUS (500, no usable backend: the only one).

local shared = ngx.shared.wg_routes

local _M = {}

local unescape_uri = ngx.unescape_uri

-- %XX (the operator escapes "+" too, so nothing else changes); "%" alone is "".
local function unescape(s)
    if s == "%" then return "" end
    if not s:find("%", 1, true) then return s end
    return unescape_uri(s)
end

local function always(e)
    if next(e.exact) then return end
    local only, other = next(e.prefix)
    if only ~= "/" or next(e.prefix, only) then return end
    local r = other[1]
    if not r.method and #r.conditions == 0 then e.always = r end
end

-- The document as tables: port -> { exact = {host -> entry}, wild = {".suffix" -> entry}, any = entry },
-- entry = { exact = {path -> rules}, prefix = {prefix -> rules} }, each rules list in precedence order.
function _M.parse(body)
    local ports, port, host, order = {}, nil, nil, 0
    for line in body:gmatch("([^\n]*)\n") do
        local kind, rest = line:match("^(%a+) (.+)$")
        if kind == "port" then
            if not rest:match("^[%w_]+$") then return nil, "bad port: " .. line end
            port = { exact = {}, wild = {} }
            ports[rest], host = port, nil
        elseif kind == "server" then
            if not port then return nil, "server before port" end
            -- a host that a server block serves: only the agent's merge reads these
        elseif kind == "host" then
            if not port then return nil, "host before port" end
            host = { exact = {}, prefix = {} }
            if rest == "-" then
                port.any = host
            else
                local name = unescape(rest)
                if name:sub(1, 2) == "*." then port.wild[name:sub(2)] = host else port.exact[name] = host end
            end
        elseif kind == "rule" then
            if not host then return nil, "rule before host" end
            local f = {}
            for tok in rest:gmatch("%S+") do f[#f + 1] = tok end
            local index = f[1] == "e" and host.exact or f[1] == "p" and host.prefix
            local status = tonumber(f[5])
            if not index or #f < 6 or (#f - 6) % 3 ~= 0 or not status or not f[4]:match("^[%w_-]+$") then
                return nil, "bad rule: " .. line
            end
            order = order + 1
            local r = {
                order = order, route = unescape(f[3]), upstream = f[4] ~= "-" and f[4] or nil, status = status,
                method = f[6] ~= "-" and unescape(f[6]) or nil, conditions = {},
            }
            -- the router location answers 500 itself (a rule without a usable backend)
            if not r.upstream and status ~= 500 then return nil, "bad status: " .. line end
            for i = 7, #f, 3 do
                if f[i] ~= "h" and f[i] ~= "q" then return nil, "bad condition: " .. line end
                r.conditions[#r.conditions + 1] = { unescape(f[i + 1]), unescape(f[i + 2]) }
            end
            local path = unescape(f[2])
            local list = index[path]
            if not list then
                list = {}
                index[path] = list
            end
            list[#list + 1] = r
        elseif line ~= "" then
            return nil, "bad line: " .. line
        end
    end
    -- A host whose only rules are PathPrefix "/" and the first has no condition: that rule
    -- answers every request (the common one-rule route), with no look at the request.
    for _, p in pairs(ports) do
        for _, e in pairs(p.exact) do always(e) end
        for _, e in pairs(p.wild) do always(e) end
        if p.any then always(p.any) end
    end
    return ports
end

local cached_version, cached = nil, {}

-- This worker's parsed table of the newest document.
local function current()
    for _ = 1, 3 do
        local v = shared:get("version")
        if v == cached_version then return cached end
        if not v then return {} end
        local body = shared:get("doc:" .. v)
        if body then
            local t, err = _M.parse(body)
            if not t then
                ngx.log(ngx.ERR, "waygate.routes: document ", v, ": ", err)
                t = {}
            end
            cached_version, cached = v, t
            return t
        end
        -- replaced meanwhile: read the version again
    end
    return cached
end

local function holds(r)
    if r.method and r.method ~= ngx.req.get_method() then return false end
    local var = ngx.var
    local c = r.conditions
    for i = 1, #c do
        if var[c[i][1]] ~= c[i][2] then return false end
    end
    return true
end

-- The first rule of `list` (in order) that holds and goes before `best`, else `best`.
local function first(list, best)
    if not list then return best end
    for i = 1, #list do
        local r = list[i]
        if best and r.order >= best.order then return best end
        if holds(r) then return r end
    end
    return best
end

-- The longest hostname and match path the operator writes (operator/src/values/checks.ts
-- limits.hostname and .locationPath): a client's longer Host or path is cut to what can
-- match, so that its lookups stay short (each step below copies a suffix or prefix: a path of
-- 3,900 segments cost 9 ms a request, 100 times a short one).
local MAX_HOST, MAX_PATH = 253, 254

-- The host's entry: the exact name, then the longest wildcard, then the catch-all.
local function entry(port, name)
    if #name > MAX_HOST then return port.any end -- no entry can name it
    local e = port.exact[name]
    if e then return e end
    local i = name:find(".", 1, true)
    while i do
        e = port.wild[name:sub(i)]
        if e then return e end
        i = name:find(".", i + 1, true)
    end
    return port.any
end

-- set_by_lua of a router location ($wg_upstream; no coroutine, unlike rewrite_by_lua): the
-- upstream whose peers serve the request, setting $wg_route, or "" (no rule: 404), or
-- "!STATUS" (the rule answers STATUS itself).
function _M.route(port_id)
    local port = current()[port_id]
    local e = port and entry(port, ngx.var.host)
    if not e then return "" end
    local best = e.always
    if not best then
        local uri = ngx.var.uri
        best = first(e.exact[uri], nil)
        local path = uri
        if #path > MAX_PATH then
            -- no prefix is longer: start from the longest one within MAX_PATH, at a "/"
            local cut = path:sub(1, MAX_PATH + 1):match("^(.*)/")
            path = (cut == nil or cut == "") and "/" or cut
        end
        while true do
            best = first(e.prefix[path], best)
            if path == "/" then break end
            local cut = path:match("^(.*)/[^/]*$")
            path = (cut == nil or cut == "") and "/" or cut
        end
        if not best then return "" end
    end
    ngx.var.wg_route = best.route
    return best.upstream or ("!" .. best.status)
end

-- Stores a document (refused when it does not parse); the previous one stays for workers
-- that read its version a moment ago. Returns the number of ports and 0.
function _M.store(body)
    local t, err = _M.parse(body)
    if not t then return nil, err end
    local n = 0
    for _ in pairs(t) do n = n + 1 end
    -- Only the served document stays (workers that read its version a moment ago may still
    -- fetch it): every other one goes first, also those of earlier stores that failed half
    -- way, which would otherwise hold their memory until nginx restarts.
    local served = shared:get("version")
    local keep = served and ("doc:" .. served)
    for _, key in ipairs(shared:get_keys(0)) do
        if key:sub(1, 4) == "doc:" and key ~= keep then shared:delete(key) end
    end
    local v, incr_err = shared:incr("seq", 1, 0)
    if not v then return nil, "seq: " .. tostring(incr_err) end
    -- safe_set: a full dict refuses the new document and evicts nothing (the current one stays served)
    local ok, set_err = shared:safe_set("doc:" .. v, body)
    if not ok then return nil, "storing the document (" .. #body .. " bytes): " .. tostring(set_err) end
    ok, set_err = shared:safe_set("version", v)
    if not ok then
        shared:delete("doc:" .. v)
        return nil, "storing the version: " .. tostring(set_err)
    end
    return n, 0
end

-- init_by_lua of a config whose table is a file (the tests' throwaway nginx).
function _M.load_file(path)
    require("waygate.control").load_file("waygate.routes", path, _M.store)
end

-- content_by_lua of the agent's control location.
function _M.put()
    return require("waygate.control").put("waygate.routes", _M.store)
end

return _M
