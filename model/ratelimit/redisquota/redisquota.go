// Package redisquota shares a deployment's request and token windows among
// every instance of the service through Redis, so N instances together stay
// within the deployment's RPM and TPM even before the service's
// remaining-quota headers tell each of them. It complements the process's
// own limiter (ratelimit.Config.Shared): that one keeps reservations,
// corrections and pauses; this one only admits.
//
// The windows slide like the service's: units taken come back one window
// (a minute) after they were taken. A bucket that refills continuously
// (GCRA, a token bucket) with a whole minute's burst would admit a full
// minute's quota at once and then the steady rate on top, up to twice the
// quota within one minute, and the service refuses the excess with 429s:
// `newsroom bench cluster` measured 13 % of the calls of three instances
// throttled that way at 120 RPM.
package redisquota

import (
	"context"
	"crypto/rand"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/newsroom-dev/newsroom/model/ratelimit"
)

var _ ratelimit.SharedSettler = (*Quota)(nil)

// Config configures a Quota.
type Config struct {
	// Client is the shared Redis. Required.
	Client *redis.Client
	// RequestsPerMinute and TokensPerMinute are the deployment's quota;
	// zero means that window is not shared.
	RequestsPerMinute, TokensPerMinute int
	// Prefix starts the window keys; empty means "newsroom:quota:".
	Prefix string
	// Window is the length of the quota window; zero means one minute, the
	// service's (tests shorten it).
	Window time.Duration
	// Margin is added to the window before taken units come back, as in
	// the process's limiter: a call admitted here reaches the service a
	// little later, so its unit leaves the service's window later too.
	// Zero means ratelimit.DefaultMargin; negative none.
	Margin time.Duration
}

// Quota admits calls against windows shared through Redis.
type Quota struct {
	rdb              *redis.Client
	requests, tokens int
	prefix           string
	window           time.Duration // with the margin
}

// New returns a Quota, or an error without a Client.
func New(cfg Config) (*Quota, error) {
	if cfg.Client == nil {
		return nil, errors.New("redisquota: Client is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "newsroom:quota:"
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Minute
	}
	switch {
	case cfg.Margin == 0:
		cfg.Margin = ratelimit.DefaultMargin
	case cfg.Margin < 0:
		cfg.Margin = 0
	}
	return &Quota{rdb: cfg.Client, requests: max(cfg.RequestsPerMinute, 0), tokens: max(cfg.TokensPerMinute, 0),
		prefix: cfg.Prefix, window: cfg.Window + cfg.Margin}, nil
}

// Acquire waits until deployment's shared windows have room for one request
// and tokens (capped at the token window's size, so one large call is not
// refused forever), or ctx ends. Tokens are taken first: a call refused for
// its request is retried with its tokens already held. When Redis does not
// answer, the call goes on (the process's own limiter admitted it already):
// an outage of the shared windows does not fail runs.
func (q *Quota) Acquire(ctx context.Context, deployment string, tokens int) error {
	_, err := q.AcquireSettle(ctx, deployment, tokens)
	return err
}

// settleTimeout bounds the write that settles a call, made after the call
// whatever its context.
const settleTimeout = 2 * time.Second

// AcquireSettle is Acquire, and returns the function that settles the call:
// its token entry is set to the tokens it used (capped as in Acquire), or,
// with 0, the call's request and tokens are given back. A call's entry that
// has already left the window is not touched.
func (q *Quota) AcquireSettle(ctx context.Context, deployment string, tokens int) (func(used int), error) {
	tpm, rpm := q.prefix+"{"+deployment+":tpm}", q.prefix+"{"+deployment+":rpm}"
	var tokEntry, reqEntry string
	if q.tokens > 0 && tokens > 0 {
		var err error
		if tokEntry, err = q.take(ctx, tpm, q.tokens, min(tokens, q.tokens)); err != nil {
			return nil, err
		}
	}
	if q.requests > 0 {
		var err error
		if reqEntry, err = q.take(ctx, rpm, q.requests, 1); err != nil {
			return nil, err
		}
	}
	return func(used int) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
		defer cancel()
		if tokEntry != "" {
			_ = settle.Run(sctx, q.rdb, []string{tpm, tpm + ":total"}, tokEntry, min(max(used, 0), q.tokens)).Err()
		}
		if reqEntry != "" && used <= 0 {
			_ = settle.Run(sctx, q.rdb, []string{rpm, rpm + ":total"}, reqEntry, 0).Err()
		}
	}, nil
}

// take waits until the window at key has room for n more units of limit
// and returns the admission's entry ("" when Redis did not answer).
func (q *Quota) take(ctx context.Context, key string, limit, n int) (string, error) {
	entry := strconv.Itoa(n) + ":" + rand.Text() // the id tells entries of the same size and time apart
	for {
		wait, err := slide.Run(ctx, q.rdb, []string{key, key + ":total"},
			q.window.Microseconds(), limit, n, entry).Int64()
		if err != nil {
			if ctx.Err() != nil {
				return "", context.Cause(ctx)
			}
			return "", nil
		}
		if wait <= 0 {
			return entry, nil
		}
		t := time.NewTimer(max(time.Duration(wait)*time.Microsecond, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return "", context.Cause(ctx)
		case <-t.C:
		}
	}
}

// slide admits n units into a sliding window: KEYS[1] is a sorted set of the
// admissions still inside the window (score: the time taken, in µs by
// Redis's clock, which every instance shares; member: "n:id"), KEYS[2] the
// units they hold. ARGV: window (µs), limit, n, entry ("n:id"). It returns
// 0 when admitted, else the µs until enough units come back.
var slide = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window, limit, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local total = tonumber(redis.call('GET', KEYS[2]) or '0')
local cutoff = now - window
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff)) do
  total = total - tonumber(string.match(m, '^(%d+):'))
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
if total < 0 then total = 0 end
local ttl = math.ceil(window / 1000) + 1000
if total + n <= limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('SET', KEYS[2], total + n, 'PX', ttl)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 0
end
redis.call('SET', KEYS[2], total, 'PX', ttl)
local need, freed = total + n - limit, 0
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #entries, 2 do
  freed = freed + tonumber(string.match(entries[i], '^(%d+):'))
  if freed >= need then
    return math.max(tonumber(entries[i + 1]) + window - now, 1)
  end
end
return window
`)

// settle sets the units of an admission still in the window: KEYS as in
// slide; ARGV: the entry ("n:id"), the units it holds now (0 removes it).
var settle = redis.NewScript(`
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not at then return 0 end
local old, n = tonumber(string.match(ARGV[1], '^(%d+):')), tonumber(ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1])
if n > 0 then
  redis.call('ZADD', KEYS[1], at, n .. string.match(ARGV[1], '^%d+(:.*)$'))
end
local total = tonumber(redis.call('GET', KEYS[2]) or '0') - old + n
if total < 0 then total = 0 end
redis.call('SET', KEYS[2], total, 'KEEPTTL')
return 1
`)
