package wsgateway

import (
	"sync"
	"time"
)

// Throttle is one route's request limit, as API Gateway's route settings give it: a token bucket
// holding up to BurstLimit requests, refilled at RateLimit requests per second. A request that
// finds the bucket empty is refused with 429 Too Many Requests and never reaches the route.
type Throttle struct {
	RateLimit  float64
	BurstLimit int
}

// bucket is a Throttle's state. Its methods are safe for concurrent use.
type bucket struct {
	limit Throttle

	mu     sync.Mutex
	tokens float64
	last   time.Time // when tokens was last refilled; zero before the first request
}

// take spends one token at now, refilling first for the time since the last request. It reports
// false, spending nothing, when the bucket is empty. A clock that goes back refills nothing.
func (b *bucket) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	burst := float64(b.limit.BurstLimit)
	switch {
	case b.last.IsZero():
		b.tokens = burst
	case now.After(b.last):
		b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*b.limit.RateLimit)
	}
	if now.After(b.last) {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// throttles holds one bucket per route key that has a limit: its own from Options.RouteThrottles,
// else Options.Throttle, the stage default (each route its own bucket, as route settings are).
type throttles struct {
	now     func() time.Time
	buckets map[string]*bucket
}

func newThrottles(opts Options) *throttles {
	t := &throttles{now: opts.Now, buckets: map[string]*bucket{}}
	if t.now == nil {
		t.now = time.Now
	}
	keys := []string{RouteConnect, RouteDefault}
	for k := range opts.Routes {
		keys = append(keys, k)
	}
	for _, k := range keys {
		limit, ok := opts.RouteThrottles[k]
		if !ok {
			limit = opts.Throttle
		}
		if limit != (Throttle{}) {
			t.buckets[k] = &bucket{limit: limit}
		}
	}
	return t
}

// allow reports whether a request on route key may go through now; a route without a limit
// always may.
func (t *throttles) allow(key string) bool {
	b := t.buckets[key]
	return b == nil || b.take(t.now())
}
