-- waygate.certs: the certificates of HTTPS listeners, outside nginx.conf, so that a Secret
-- update (certificate rotation) needs no reload, and so drops no keep-alive connection.
--
-- The config names a listener's certificates by a stable key (from the Secrets' names, not
-- their content) and carries only a placeholder certificate, which nginx needs to accept
-- `listen ... ssl` and which is never served:
--
--   ssl_certificate <placeholder>; ssl_certificate_key <placeholder>;
--   ssl_certificate_by_lua_block { require("waygate.certs").set("KEY") }
--
-- set() clears the placeholder at every handshake and installs the key's certificates; when
-- the key has none (not pushed yet) or they do not parse, the handshake fails: never the
-- placeholder. The agent pushes the PEM bundles (POST to /waygate/certs on its status
-- socket) into the lua_shared_dict wg_certs, which outlives reloads; the tests' throwaway
-- nginx reads them at init from the version's certs.txt instead (load_file, in the master,
-- which may read 0600 files). Pushed body, one item after another:
--   certificate KEY
--   pem LENGTH
--   <LENGTH bytes: a certificate chain followed by its private key>
-- (a key may have several bundles, e.g. RSA and ECDSA). certs.txt: "certificate KEY" lines,
-- each followed by the absolute paths of its bundles, one a line.

local ssl = require "ngx.ssl"

local shared = ngx.shared.wg_certs
local PREFIX = "c:"
local SEPARATOR = "\0" -- between the bundles of one key in the dict (PEM never holds a NUL)

local _M = {}

-- key -> { text, pairs = { { cert, key }, ... } }, per worker: parsed once per content.
local parsed = {}

local function parse(text)
    local pairs_ = {}
    for pem in (text .. SEPARATOR):gmatch("([^%z]+)%z") do
        local cert, err = ssl.parse_pem_cert(pem)
        if not cert then return nil, "certificate: " .. tostring(err) end
        local key, kerr = ssl.parse_pem_priv_key(pem)
        if not key then return nil, "private key: " .. tostring(kerr) end
        pairs_[#pairs_ + 1] = { cert = cert, key = key }
    end
    if #pairs_ == 0 then return nil, "no certificate" end
    return { text = text, pairs = pairs_ }
end

local function fail(key, why)
    ngx.log(ngx.ERR, "waygate.certs: handshake refused for certificates ", key, ": ", why)
    return ngx.exit(ngx.ERROR)
end

-- ssl_certificate_by_lua of an HTTPS server.
function _M.set(key)
    local text = shared:get(PREFIX .. key)
    if not text then return fail(key, "none pushed") end
    local p = parsed[key]
    if not p or p.text ~= text then
        local err
        p, err = parse(text)
        if not p then return fail(key, err) end
        parsed[key] = p
    end
    local ok, err = ssl.clear_certs()
    if not ok then return fail(key, "clear_certs: " .. tostring(err)) end
    for _, pair in ipairs(p.pairs) do
        ok, err = ssl.set_cert(pair.cert)
        if not ok then return fail(key, "set_cert: " .. tostring(err)) end
        ok, err = ssl.set_priv_key(pair.key)
        if not ok then return fail(key, "set_priv_key: " .. tostring(err)) end
    end
end

local function valid_key(key)
    return key and key:match("^[%w_]+$") ~= nil
end

-- Stores { key -> { pem, ... } } (`order`: the keys); with `prune` keys not named are removed.
local function store_all(lists, order, prune)
    for _, key in ipairs(order) do
        local ok, err = shared:safe_set(PREFIX .. key, table.concat(lists[key], SEPARATOR)) -- evicts nothing
        if not ok then return nil, "storing " .. key .. ": " .. tostring(err) .. " (the shared dict wg_certs is full)" end
    end
    local removed = 0
    if prune then
        for _, k in ipairs(shared:get_keys(0)) do
            if k:sub(1, #PREFIX) == PREFIX and not lists[k:sub(#PREFIX + 1)] then
                shared:delete(k)
                removed = removed + 1
            end
        end
    end
    return #order, removed
end

-- Parses a pushed body (the format above) and stores it. Returns counts, or nil and an error.
function _M.store(body, prune)
    local lists, order, current, pos = {}, {}, nil, 1
    while pos <= #body do
        local nl = body:find("\n", pos, true)
        if not nl then return nil, "truncated line at byte " .. pos end
        local line = body:sub(pos, nl - 1)
        pos = nl + 1
        local key = line:match("^certificate (.+)$")
        local length = line:match("^pem (%d+)$")
        if key then
            if not valid_key(key) then return nil, "bad key: " .. key end
            current = key
            lists[key] = {}
            order[#order + 1] = key
        elseif length and current then
            local n = tonumber(length)
            if pos + n - 1 > #body then return nil, "truncated bundle of " .. current end
            local pem = body:sub(pos, pos + n - 1)
            if pem:find(SEPARATOR, 1, true) then return nil, "a NUL byte in a bundle of " .. current end
            local l = lists[current]
            l[#l + 1] = pem
            pos = pos + n
            if body:sub(pos, pos) == "\n" then pos = pos + 1 end
        elseif line ~= "" then
            return nil, "bad line: " .. line:sub(1, 80)
        end
    end
    return store_all(lists, order, prune)
end

-- init_by_lua of a config whose certificates are a certs.txt (the tests' throwaway nginx).
function _M.load_file(path)
    local f = assert(io.open(path, "rb"))
    local lists, order, current = {}, {}, nil
    for line in f:lines() do
        local key = line:match("^certificate (.+)$")
        if key then
            assert(valid_key(key), "waygate.certs: bad key in " .. path)
            current = key
            lists[key] = {}
            order[#order + 1] = key
        elseif line ~= "" then
            assert(current, "waygate.certs: a file before any key in " .. path)
            local b = assert(io.open(line, "rb"))
            local l = lists[current]
            l[#l + 1] = b:read("*a")
            b:close()
        end
    end
    f:close()
    local n, err = store_all(lists, order, true)
    if not n then error("waygate.certs: " .. path .. ": " .. err) end
end

-- content_by_lua of the agent's control location. ?prune=1 removes the keys not pushed.
function _M.put()
    return require("waygate.control").put("waygate.certs", _M.store)
end

return _M
