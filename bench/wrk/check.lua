-- wrk script for the benchmark: sends the scenario's request and checks every response.
-- Read scenarios: the body must equal, byte for byte, a reference answer the harness
-- checked in Python. payInvoice: a unique Idempotency key per request, invoices in turn,
-- and a succeeded, error-free, first-time answer. Any other answer counts as bad, and a
-- run with a bad answer is void. Results go to stdout as one JSON line.

local function slurp(path)
  local file = assert(io.open(path, "rb"))
  local text = file:read("*a")
  file:close()
  return text
end

local mode = os.getenv("BENCH_MODE") or "read"
local token = assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN")
local target_path = assert(os.getenv("BENCH_PATH"), "BENCH_PATH")
local expected = nil
local template = nil
local invoices = {}
local key_prefix = os.getenv("BENCH_KEY_PREFIX") or "k"
local offset = tonumber(os.getenv("BENCH_OFFSET") or "0")

wrk.method = "POST"
wrk.path = target_path
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

if mode == "read" then
  wrk.body = slurp(assert(os.getenv("BENCH_BODY_FILE"), "BENCH_BODY_FILE"))
  expected = slurp(assert(os.getenv("BENCH_EXPECT_FILE"), "BENCH_EXPECT_FILE"))
else
  template = slurp(assert(os.getenv("BENCH_TEMPLATE_FILE"), "BENCH_TEMPLATE_FILE"))
  local listed = slurp(assert(os.getenv("BENCH_INVOICES_FILE"), "BENCH_INVOICES_FILE"))
  for line in listed:gmatch("[^\n]+") do
    invoices[#invoices + 1] = line
  end
end

-- Throughput is counted over a window that starts `skip` seconds in: by then N
-- connections have filled the server's queue, and the count no longer includes the
-- ramp (wrk's own total does). LuaJIT's ffi gives a monotonic clock.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local timespec = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, timespec)
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) / 1e9
end
local skip = tonumber(os.getenv("BENCH_WINDOW_SKIP") or "0")

local threads = {}
local thread_number = 0

function setup(thread)
  thread_number = thread_number + 1
  thread:set("tid", thread_number)
  threads[#threads + 1] = thread
end

bad = 0
sample = ""
window = 0
window_start = 0
local counter = 0

function request()
  if mode == "read" then
    return wrk.request()
  end
  counter = counter + 1
  local n = counter * thread_count + tid
  local invoice = invoices[(n + offset) % #invoices + 1]
  local body = string.format(template, key_prefix .. "-" .. tid .. "-" .. counter, invoice)
  return wrk.format(nil, nil, nil, body)
end

function init(args)
  thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")
  window_start = now() + skip
end

local function pay_ok(body)
  return string.find(body, '"errors"', 1, true) == nil
    and string.find(body, '"userErrors":[]', 1, true) ~= nil
    and string.find(body, '"replayed":false', 1, true) ~= nil
    and string.find(body, '"status":"SUCCEEDED"', 1, true) ~= nil
end

function response(status, headers, body)
  if now() >= window_start then window = window + 1 end
  local ok
  if mode == "read" then
    ok = status == 200 and body == expected
  else
    ok = status == 200 and pay_ok(body)
  end
  if not ok then
    bad = bad + 1
    if sample == "" then sample = tostring(status) .. " " .. string.sub(body or "", 1, 400) end
  end
end

local function escaped(text)
  return (text:gsub('[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end))
end

function done(summary, latency, requests)
  local bad_total, first_sample, window_total = 0, "", 0
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
    window_total = window_total + thread:get("window")
    local s = thread:get("sample")
    if first_sample == "" and s ~= nil then first_sample = s end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"window_requests":%d,"window_skip_s":%.3f,'
      .. '"bad":%d,"bad_sample":"%s","latency_us":{"min":%d,"max":%d,"mean":%.1f,'
      .. '"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    window_total, skip,
    bad_total, escaped(first_sample),
    latency.min, latency.max, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9)))
end
