-- Runs kong.yml's post-function chunks (header_filter, body_filter) under LuaJIT with a
-- stand-in for the bits of Kong's PDK and ngx they use, and checks the error bodies.
-- Usage: luajit post_function_harness.lua <header_filter.lua> <body_filter.lua>
local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end
local header_fn = assert(loadstring(slurp(arg[1]), "header_filter"))
local body_fn = assert(loadstring(slurp(arg[2]), "body_filter"))

-- As OpenResty's ngx.unescape_uri: `+` becomes a space too (the Lua must not rely on it).
local function unescape_uri(s)
  return (s:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function run(case)
  local headers = {}
  for k, v in pairs(case.headers or {}) do headers[k:lower()] = v end
  kong = {
    response = {
      get_status = function() return case.status end,
      get_header = function(n) return headers[n:lower()] end,
      set_header = function(n, v) headers[n:lower()] = v end,
      clear_header = function(n) headers[n:lower()] = nil end,
    },
    ctx = { shared = {} },
  }
  ngx = { unescape_uri = unescape_uri, arg = {} }
  header_fn()
  local out = {}
  local chunks = case.chunks or { case.body or "" }
  for i, c in ipairs(chunks) do
    ngx.arg = { c, i == #chunks }
    body_fn()
    if ngx.arg[1] then out[#out + 1] = ngx.arg[1] end
  end
  return table.concat(out), headers
end

local cases = {
  { name = "upstream status", status = 404, headers = { ["grpc-status"] = "5", ["grpc-message"] = "no%20such%20expense" },
    want = '{"code":"NOT_FOUND","message":"no such expense"}' },
  { name = "quotes and unicode", status = 500, headers = { ["grpc-status"] = "13", ["grpc-message"] = "say%20%22hi%22%20%C3%BC" },
    want = '{"code":"INTERNAL","message":"say \\"hi\\" \195\188"}' },
  { name = "plus kept", status = 400, headers = { ["grpc-status"] = "3", ["grpc-message"] = "phone%20+49%20is%20not%20allowed%3A%20100%25" },
    want = '{"code":"INVALID_ARGUMENT","message":"phone +49 is not allowed: 100%"}' },
  { name = "jwt, no token", status = 401, body = '{"message":"Unauthorized"}',
    want = '{"code":"UNAUTHENTICATED","message":"Unauthorized"}' },
  { name = "jwt, expired", status = 401, body = '{"exp":"token expired"}',
    want = '{"code":"UNAUTHENTICATED","message":"token expired"}' },
  { name = "grpc-gateway plain text", status = 400, body = "decode json err: Expected value but found T_END at character 1",
    want = '{"code":"INVALID_ARGUMENT","message":"decode json err: Expected value but found T_END at character 1"}' },
  { name = "rate limit, chunked", status = 429, chunks = { '{ "mess', 'age": "API rate limit exceeded" }\n' },
    want = '{"code":"RESOURCE_EXHAUSTED","message":"API rate limit exceeded"}' },
  { name = "router", status = 404, body = '{\n  "message":"no Route matched with those values"\n}',
    want = '{"code":"NOT_FOUND","message":"no Route matched with those values"}' },
  { name = "size limit", status = 413, body = '{"message":"Request size limit exceeded"}',
    want = '{"code":"INVALID_ARGUMENT","message":"Request size limit exceeded"}' },
  { name = "empty body", status = 502, body = "",
    want = '{"code":"UNAVAILABLE","message":"HTTP 502"}' },
  { name = "success untouched", status = 200, body = '{"id":"e1"}', want = '{"id":"e1"}', untouched = true },
}

local failed = 0
for _, case in ipairs(cases) do
  local body, headers = run(case)
  local ctype_ok = case.untouched or headers["content-type"] == "application/json"
  if body ~= case.want or not ctype_ok then
    failed = failed + 1
    io.stderr:write(string.format("FAIL %s\n  got:  %s\n  want: %s\n", case.name, body, case.want))
  end
end
if failed > 0 then
  os.exit(1)
end
print(string.format("ok %d", #cases))
