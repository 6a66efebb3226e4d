-- waygate.control: the agent's pushes to nginx (POST on its status socket): peers
-- (waygate.peers), certificates (waygate.certs) and the route table (waygate.routes) share
-- the request handling.

local _M = {}

-- content_by_lua of a control location: the POSTed body goes to store(body, prune), which
-- returns counts (stored, removed) or nil and an error; ?prune=1 asks it to remove what the
-- body does not name. Answers "ok <stored> <removed>", or 400 with "<name>: <error>".
function _M.put(name, store)
    if ngx.req.get_method() ~= "POST" then return ngx.exit(405) end
    ngx.req.read_body()
    local body = ngx.req.get_body_data()
    if not body then
        local file = ngx.req.get_body_file()
        if file then
            local f = assert(io.open(file, "rb"))
            body = f:read("*a")
            f:close()
        end
    end
    local n, removed = store(body or "", ngx.var.arg_prune == "1")
    if not n then
        ngx.status = 400
        ngx.say(name, ": ", removed)
        return ngx.exit(400)
    end
    ngx.say("ok ", n, " ", removed)
end

-- init_by_lua of a config whose document is a file (the tests' throwaway nginx): the file
-- goes to store(body, true) as a push with pruning would.
function _M.load_file(name, path, store)
    local f = assert(io.open(path, "rb"))
    local body = f:read("*a")
    f:close()
    local n, err = store(body, true)
    if not n then error(name .. ": " .. path .. ": " .. err) end
end

return _M
